"""The instance group's side of `AwsEndpoint` (mode instance_group): network, load
balancer, hosts' role, the group, the VPC link, and observability wired to them. The
gateway that fronts it is the same `ApiGateway` as SageMaker's (aws/gateway_backend.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.common import RUNTIME_NAMESPACE, primary_variant
from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.gateway_backend import LoadBalancerBackend
from inferstack.components.aws.group import GpuInstanceGroup, GpuInstanceGroupArgs, group_name
from inferstack.components.aws.group_balancer import GroupLoadBalancer, LoadBalancerArgs
from inferstack.components.aws.group_capture import capture_environment, capture_on
from inferstack.components.aws.group_network import GroupNetwork, GroupNetworkArgs
from inferstack.components.aws.group_observability import GroupMetrics
from inferstack.components.aws.group_role import InstanceRole, InstanceRoleArgs
from inferstack.components.aws.naming import LOG_GROUP, VPC_LINK, fit
from inferstack.components.aws.observability import Observability, ObservabilityArgs
from inferstack.components.aws.registry import ImageRepository
from inferstack.components.aws.storage import ArtifactStore


def container_log_group(ctx: AwsContext) -> str:
    """The log group the hosts' Docker awslogs driver writes the runtime's logs to."""
    return fit(LOG_GROUP, f"/inferstack/{ctx.names.endpoint}/containers")


@dataclass(frozen=True)
class GroupParts:
    """What `AwsEndpoint` needs back from the group's side."""

    backend: LoadBalancerBackend
    """What the gateway's POST /invocations reaches."""
    observability: Observability
    """Logs, alarms and dashboard of the group."""
    group_name: pulumi.Output[str]
    """The Auto Scaling group's name."""


def declare_instance_group(
    name: str,
    ctx: AwsContext,
    key_arn: pulumi.Output[str],
    store: ArtifactStore,
    images: ImageRepository,
    parent: pulumi.Resource,
) -> GroupParts:
    """Every resource of the group's side, children of `parent`."""
    child = pulumi.ResourceOptions(parent=parent)
    primary = primary_variant(ctx.spec)
    network = GroupNetwork(f"{name}-network", GroupNetworkArgs(ctx), opts=child)
    balancer = GroupLoadBalancer(
        f"{name}-balancer",
        LoadBalancerArgs(
            ctx,
            vpc_id=network.vpc_id,
            subnet_ids=network.subnet_ids,
            security_group_id=network.balancer_security_group_id,
        ),
        opts=child,
    )
    log_group = container_log_group(ctx)
    observability = Observability(
        f"{name}-observability",
        ObservabilityArgs(
            ctx,
            key_arn,
            group=GroupMetrics(
                load_balancer=balancer.arn_suffix,
                target_group=balancer.target_group_arn_suffix,
                group_name=group_name(ctx),
                log_group=log_group,
            ),
        ),
        opts=child,
    )
    role = InstanceRole(
        f"{name}-hosts",
        InstanceRoleArgs(
            ctx,
            bundle_arns=store.read_arns,
            key_arn=key_arn,
            repository_arn=images.repository_arn,
            log_group_arn=observability.container_log_group_arn,
            metrics_namespace=RUNTIME_NAMESPACE,
            target_group_arn=balancer.target_group_arn,
            asg_name=group_name(ctx),
            capture_bucket_arn=store.bucket_arn if capture_on(ctx.spec) else None,
            capture_prefix=f"capture/{ctx.names.endpoint}",
        ),
        opts=child,
    )
    group = GpuInstanceGroup(
        f"{name}-group",
        GpuInstanceGroupArgs(
            ctx,
            image_uri=images.image_uris[primary],
            model_data_url=store.model_data_urls[primary],
            log_group=log_group,
            instance_profile_arn=role.profile_arn,
            subnet_ids=network.subnet_ids,
            security_group_id=network.instance_security_group_id,
            target_group_arn=balancer.target_group_arn,
            request_count_label=pulumi.Output.concat(
                balancer.arn_suffix, "/", balancer.target_group_arn_suffix
            ),
            after=(network, balancer),
            environment=pulumi.Output.all(store.capture_uri, key_arn).apply(
                lambda v: capture_environment(ctx.spec, v[0], v[1])
            ),
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[role, observability]),
    )
    link = aws.apigatewayv2.VpcLink(
        f"{name}-link",
        name=fit(VPC_LINK, ctx.names.endpoint),
        subnet_ids=network.subnet_ids,
        security_group_ids=[network.link_security_group_id],
        tags=ctx.tags,
        opts=child,
    )
    # The integration names the load balancer once its listener exists.
    listened = pulumi.Output.all(balancer.arn, balancer.listener_arn).apply(lambda v: v[0])
    backend = LoadBalancerBackend(
        vpc_link_id=link.id, load_balancer_arn=listened, dns_name=balancer.dns_name
    )
    return GroupParts(backend=backend, observability=observability, group_name=group.group_name)
