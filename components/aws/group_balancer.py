"""The instance group's internal Application Load Balancer: across two zones, a target
group whose health check is the runtime's readiness route and whose deregistration delay
covers the runtime's drain, and an HTTP listener the VPC link reaches.

Update semantics (pulumi-aws / terraform-provider-aws ForceNew): a load balancer is
replaced when its name, `internal` or type changes; a target group when its name, port,
protocol, target type or VPC changes. Both are left to Pulumi's auto-naming (a random
suffix), so a replacement is created before the old one is deleted rather than failing
on a name still in use; the listener follows the new target group in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.group_network import LISTENER_PORT
from inferstack.components.aws.naming import LOAD_BALANCER, TARGET_GROUP, auto_logical
from inferstack.components.aws.rules import aws_options
from inferstack.runtime.contract import PORT, Routes

HEALTH_CHECK_PATH = Routes.READY
"""The runtime's readiness route: 200 once the bundle is loaded and probed."""


@dataclass(frozen=True)
class LoadBalancerArgs:
    """Where the load balancer runs."""

    ctx: AwsContext
    """The deployment's spec (deregistration delay), tags."""
    vpc_id: pulumi.Input[str]
    """The group's VPC."""
    subnet_ids: list[pulumi.Output[str]]
    """Two private subnets in two zones."""
    security_group_id: pulumi.Input[str]
    """The load balancer's security group."""


class GroupLoadBalancer(pulumi.ComponentResource):
    """An internal ALB, its target group and listener."""

    arn: pulumi.Output[str]
    """The load balancer (the VPC link's integration target)."""
    dns_name: pulumi.Output[str]
    """Its internal DNS name (the integration URI's host)."""
    arn_suffix: pulumi.Output[str]
    """`app/<name>/<id>`: the LoadBalancer dimension of its metrics."""
    target_group_arn: pulumi.Output[str]
    """The target group the Auto Scaling group registers its instances in."""
    target_group_arn_suffix: pulumi.Output[str]
    """`targetgroup/<name>/<id>`: the TargetGroup dimension of its metrics."""
    listener_arn: pulumi.Output[str]
    """The HTTP listener."""

    def __init__(
        self, name: str, args: LoadBalancerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:GroupLoadBalancer", name, None, opts)
        ctx = args.ctx
        group = aws_options(ctx.spec).group
        child = pulumi.ResourceOptions(parent=self)
        balancer = aws.lb.LoadBalancer(
            auto_logical(LOAD_BALANCER, f"{name}-alb"),
            load_balancer_type="application",
            internal=True,
            subnets=args.subnet_ids,
            security_groups=[args.security_group_id],
            drop_invalid_header_fields=True,
            idle_timeout=60,
            tags=ctx.tags,
            opts=child,
        )
        targets = aws.lb.TargetGroup(
            auto_logical(TARGET_GROUP, f"{name}-tg"),
            vpc_id=args.vpc_id,
            port=PORT,
            protocol="HTTP",
            target_type="instance",
            deregistration_delay=group.deregistration_delay_s,
            health_check={
                "enabled": True,
                "path": HEALTH_CHECK_PATH,
                "port": "traffic-port",
                "protocol": "HTTP",
                "matcher": "200",
                "interval": 10,
                "timeout": 5,
                "healthy_threshold": 2,
                "unhealthy_threshold": 3,
            },
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=False),
        )
        listener = aws.lb.Listener(
            f"{name}-http",
            load_balancer_arn=balancer.arn,
            port=LISTENER_PORT,
            protocol="HTTP",
            default_actions=[{"type": "forward", "target_group_arn": targets.arn}],
            tags=ctx.tags,
            opts=child,
        )
        _stage_prefix_rule(name, ctx, listener, targets, self)
        self.arn = balancer.arn
        self.dns_name = balancer.dns_name
        self.arn_suffix = balancer.arn_suffix
        self.target_group_arn = targets.arn
        self.target_group_arn_suffix = targets.arn_suffix
        self.listener_arn = listener.arn
        self.register_outputs(
            {"arn": self.arn, "dns_name": self.dns_name, "target_group_arn": self.target_group_arn}
        )


def stage_path(stage: str) -> str:
    """The path API Gateway may send a private integration's request to: AWS documents
    that private integrations include the stage ("test/path" for stage test)."""
    return f"/{stage}{Routes.INVOCATIONS}"


def _stage_prefix_rule(
    name: str,
    ctx: AwsContext,
    listener: aws.lb.Listener,
    targets: aws.lb.TargetGroup,
    parent: pulumi.Resource,
) -> aws.lb.ListenerRule:
    """`/<stage>/invocations` rewritten to the runtime's `/invocations` (an ALB URL
    rewrite), so the route works whether or not API Gateway sends the stage."""
    path = stage_path(ctx.names.stage)
    return aws.lb.ListenerRule(
        f"{name}-stage-path",
        listener_arn=listener.arn,
        priority=1,
        conditions=[{"path_pattern": {"values": [path]}}],
        actions=[{"type": "forward", "target_group_arn": targets.arn}],
        transforms=[
            {
                "type": "url-rewrite",
                "url_rewrite_config": {
                    "rewrite": {"regex": f"^{path}$", "replace": Routes.INVOCATIONS}
                },
            }
        ],
        tags=ctx.tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
