"""The instance group's role and instance profile: least privilege for the hosts (pull
the image from its repository, read its bundle, write its own logs and metrics, drain
itself out of its target group and group)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.group_capture import capture_statements
from inferstack.components.aws.naming import INSTANCE_PROFILE, auto_logical
from inferstack.components.aws.policies import Policy, image_pull_statements
from inferstack.components.aws.roles import service_role


def instance_policy(
    *,
    bundle_arns: list[str],
    key_arn: str,
    repository_arn: str,
    log_group_arn: str,
    metrics_namespace: str,
    target_group_arn: str,
    asg_arn: str,
    capture: list[Policy] | None = None,
) -> Policy:
    """What the hosts may do: nothing beyond their own image, bundle, logs, metrics,
    target group and lifecycle action (and, with data capture, the capture prefix:
    ``group_capture.capture_statements``)."""
    statements: list[Policy] = [
        {
            "Sid": "ReadBundle",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": sorted(set(bundle_arns)),
        },
        {
            "Sid": "DecryptWithStackKey",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": key_arn,
        },
        *image_pull_statements(repository_arn),
        {
            "Sid": "WriteOwnLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group_arn, f"{log_group_arn}:log-stream:*"],
        },
        {
            # PutMetricData takes no resource; the namespace condition is its only scope.
            "Sid": "PublishOwnMetrics",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": metrics_namespace}},
        },
        {
            "Sid": "DrainFromTargetGroup",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:DeregisterTargets",
            "Resource": target_group_arn,
        },
        {
            # DescribeTargetHealth (the deregistration waiter) has no resource-level scope.
            "Sid": "WatchDeregistration",
            "Effect": "Allow",
            "Action": "elasticloadbalancing:DescribeTargetHealth",
            "Resource": "*",
        },
        {
            "Sid": "CompleteOwnLifecycleAction",
            "Effect": "Allow",
            "Action": "autoscaling:CompleteLifecycleAction",
            "Resource": asg_arn,
        },
        *(capture or []),
    ]
    return {"Version": "2012-10-17", "Statement": statements}


@dataclass(frozen=True)
class InstanceRoleArgs:
    """What the hosts reach."""

    ctx: AwsContext
    """The deployment's names, tags and account."""
    bundle_arns: list[pulumi.Output[str]]
    """The bundle objects in S3."""
    key_arn: pulumi.Input[str]
    """The stack's KMS key (bucket and log encryption)."""
    repository_arn: pulumi.Input[str]
    """The ECR repository of the runtime image."""
    log_group_arn: pulumi.Input[str]
    """The containers' log group."""
    metrics_namespace: str
    """The agent's metrics namespace."""
    target_group_arn: pulumi.Input[str]
    """The target group the hosts deregister from."""
    asg_name: str
    """The group's fixed name (its ARN is only known once it exists)."""
    capture_bucket_arn: pulumi.Input[str] | None = None
    """The bucket the runtime writes captured requests to; None: no capture."""
    capture_prefix: str = ""
    """The key prefix of the captured objects, the only place the hosts may write."""


class InstanceRole(pulumi.ComponentResource):
    """An EC2 role with the hosts' inline policy, and its instance profile."""

    profile_arn: pulumi.Output[str]
    """The instance profile the launch template names."""
    role_arn: pulumi.Output[str]
    """The role."""

    def __init__(
        self, name: str, args: InstanceRoleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:InstanceRole", name, None, opts)
        ctx = args.ctx
        asg_arn = ctx.arn("autoscaling", f"autoScalingGroup:*:autoScalingGroupName/{args.asg_name}")
        policy = pulumi.Output.all(
            pulumi.Output.all(*args.bundle_arns),
            args.key_arn,
            args.repository_arn,
            args.log_group_arn,
            args.target_group_arn,
            asg_arn,
            args.capture_bucket_arn,
        ).apply(
            lambda v: instance_policy(
                bundle_arns=list(v[0]),
                key_arn=v[1],
                repository_arn=v[2],
                log_group_arn=v[3],
                metrics_namespace=args.metrics_namespace,
                target_group_arn=v[4],
                asg_arn=v[5],
                capture=capture_statements(v[6], args.capture_prefix, v[1]) if v[6] else None,
            )
        )
        role = service_role(name, "ec2.amazonaws.com", policy, self, ctx)
        profile = aws.iam.InstanceProfile(
            auto_logical(INSTANCE_PROFILE, f"{name}-profile"),
            role=role.role.name,
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role.grant]),
        )
        self.profile_arn = profile.arn
        self.role_arn = role.role.arn
        self.register_outputs({"profile_arn": self.profile_arn, "role_arn": self.role_arn})
