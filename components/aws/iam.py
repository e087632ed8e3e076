"""SageMaker's execution role, limited to this deployment's own resources."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi

from inferstack.components.aws.alarms import rollback_alarm_names
from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.policies import execution_role_policy
from inferstack.components.aws.roles import service_role
from inferstack.components.aws.rules import aws_options


@dataclass(frozen=True)
class ExecutionRoleArgs:
    """What the execution role may reach."""

    ctx: AwsContext
    """The deployment's spec, names, tags and account."""
    read_arns: Sequence[pulumi.Input[str]]
    """S3 object ARNs (or patterns) SageMaker may read: the archives, async input."""
    write_arns: Sequence[pulumi.Input[str]]
    """S3 object ARN patterns SageMaker may write: capture, async output and failures."""
    key_arn: pulumi.Input[str]
    """The stack's KMS key."""
    repository_arn: pulumi.Input[str]
    """The ECR repository the images are pulled from."""


def rollback_alarms(ctx: AwsContext) -> list[pulumi.Output[str]]:
    """ARNs of the alarms SageMaker reads during a guarded rollout (none when the spec
    turns auto-rollback off or the endpoint is serverless, which has no guardrails)."""
    spec = ctx.spec
    if not spec.rollout.auto_rollback or aws_options(spec).mode == "serverless":
        return []
    return [ctx.arn("cloudwatch", f"alarm:{a}") for a in rollback_alarm_names(spec, ctx.names)]


class ExecutionRole(pulumi.ComponentResource):
    """The role SageMaker assumes: read its archives and image, write its capture prefix,
    async output and log group, use the stack key; nothing else."""

    arn: pulumi.Output[str]
    """Role ARN."""
    name: pulumi.Output[str]
    """Role name."""

    def __init__(
        self, name: str, args: ExecutionRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:ExecutionRole", name, None, opts)
        ctx = args.ctx
        log_group_arn = ctx.arn("logs", f"log-group:{ctx.names.endpoint_log_group}")
        vpc = bool(aws_options(ctx.spec).subnet_ids)
        alarms = rollback_alarms(ctx)
        n_read, n_write = len(args.read_arns), len(args.write_arns)
        policy = pulumi.Output.all(
            args.key_arn,
            args.repository_arn,
            log_group_arn,
            *args.read_arns,
            *args.write_arns,
            *alarms,
        ).apply(
            lambda v: execution_role_policy(
                key_arn=v[0],
                repository_arn=v[1],
                log_group_arn=v[2],
                artifact_arns=list(v[3 : 3 + n_read]),
                write_prefix_arns=list(v[3 + n_read : 3 + n_read + n_write]),
                alarm_arns=list(v[3 + n_read + n_write :]),
                vpc=vpc,
            )
        )
        role = service_role(
            name,
            "sagemaker.amazonaws.com",
            policy,
            self,
            ctx,
            description=f"SageMaker execution role of {ctx.names.endpoint}",
            max_session_duration=3600,
        ).role
        self.arn = role.arn
        self.name = role.name
        self.register_outputs({"arn": self.arn})
