"""SageMaker's execution role, limited to this deployment's own resources."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.policies import execution_role_policy, service_trust
from inferstack.components.aws.rules import aws_options


class ExecutionRole(pulumi.ComponentResource):
    """The role SageMaker assumes: read its archives and image, write its capture prefix,
    async output and log group, use the stack key; nothing else."""

    arn: pulumi.Output[str]
    """Role ARN."""
    name: pulumi.Output[str]
    """Role name."""

    def __init__(
        self,
        name: str,
        ctx: AwsContext,
        *,
        read_arns: Sequence[pulumi.Input[str]],
        write_arns: Sequence[pulumi.Input[str]],
        key_arn: pulumi.Input[str],
        repository_arn: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("inferstack:aws:ExecutionRole", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            description=f"SageMaker execution role of {ctx.names.endpoint}",
            assume_role_policy=ctx.account_id.apply(
                lambda account: json.dumps(service_trust("sagemaker.amazonaws.com", account))
            ),
            max_session_duration=3600,
            tags=ctx.tags,
            opts=child,
        )
        log_group_arn = ctx.arn("logs", f"log-group:{ctx.names.endpoint_log_group}")
        vpc = bool(aws_options(ctx.spec).subnet_ids)
        n_read = len(read_arns)
        policy = pulumi.Output.all(
            key_arn, repository_arn, log_group_arn, *read_arns, *write_arns
        ).apply(
            lambda v: json.dumps(
                execution_role_policy(
                    key_arn=v[0],
                    repository_arn=v[1],
                    log_group_arn=v[2],
                    artifact_arns=list(v[3 : 3 + n_read]),
                    write_prefix_arns=list(v[3 + n_read :]),
                    vpc=vpc,
                )
            )
        )
        aws.iam.RolePolicy(f"{name}-policy", role=role.id, policy=policy, opts=child)
        self.arn = role.arn
        self.name = role.name
        self.register_outputs({"arn": self.arn})
