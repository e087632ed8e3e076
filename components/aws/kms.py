"""The stack's customer-managed KMS key: artifacts, capture, logs, SNS, ECR, volumes."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.naming import KMS_ALIAS, fit
from inferstack.components.aws.policies import kms_key_policy


@dataclass(frozen=True)
class StackKeyArgs:
    """Where the key lives and what it is named after."""

    ctx: AwsContext
    """The deployment's spec, names, tags, region and account."""


class StackKey(pulumi.ComponentResource):
    """A rotating KMS key (and alias) that encrypts everything this deployment stores."""

    arn: pulumi.Output[str]
    """The key's ARN."""
    key_id: pulumi.Output[str]
    """The key's id."""

    def __init__(
        self, name: str, args: StackKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:StackKey", name, None, opts)
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self)
        policy = ctx.account_id.apply(
            lambda account: json.dumps(kms_key_policy(account, ctx.region, ctx.partition))
        )
        key = aws.kms.Key(
            f"{name}-key",
            description=f"inferstack {ctx.names.endpoint}: artifacts, capture, logs, alarms",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy,
            tags=ctx.tags,
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=fit(KMS_ALIAS, f"alias/inferstack/{ctx.names.endpoint}"),
            target_key_id=key.key_id,
            opts=child,
        )
        self.arn = key.arn
        self.key_id = key.key_id
        self.register_outputs({"arn": self.arn, "key_id": self.key_id})
