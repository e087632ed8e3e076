"""`GpuInstanceGroup`: the runtime on an EC2 Auto Scaling group of GPU instances, spot
with an on-demand base, behind the load balancer's target group.

A launch template (the Deep Learning AMI from its public SSM parameter, IMDSv2 only, an
encrypted root volume, no public address, the hosts' instance profile, the user data of
aws/group_user_data.py), a group with a mixed instances policy (the GPU kind's types,
price-capacity-optimized spot, the spec's on-demand base and percentage, capacity
rebalancing), a launch lifecycle hook user data completes once the runtime is ready, a
termination lifecycle hook the drain agent completes, and target tracking.

Update semantics: only the group's name forces a replacement (terraform-provider-aws
aws_autoscaling_group); the name is fixed, so the group is updated in place. A launch
template change makes a new template version; the group names that version, so the
change starts an instance refresh (rolling, minimum healthy percentage, checkpoints,
automatic rollback) instead of replacing the group. The desired capacity is not set, so
an update never resets what autoscaling chose. The launch hook is one of the group's
initial lifecycle hooks, which force a new group: its settings are constants. The AMI
is the DLAMI parameter's value at the first deploy unless targets.aws.group.ami_id pins
one (the template ignores later values of the parameter).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.common import RUNTIME_NAMESPACE
from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.group_capture import imds_hop_limit
from inferstack.components.aws.group_options import DLAMI_PARAMETER
from inferstack.components.aws.group_rules import (
    drain_budget_s,
    group_instance_types,
    stop_timeout_s,
)
from inferstack.components.aws.group_user_data import UserDataArgs, render_user_data
from inferstack.components.aws.naming import (
    AUTOSCALING_GROUP,
    AUTOSCALING_POLICY,
    LAUNCH_TEMPLATE,
    LIFECYCLE_HOOK,
    auto_logical,
    fit,
)
from inferstack.components.aws.rules import aws_options
from inferstack.components.errors import DeployError
from inferstack.components.spec.models import DeploymentSpec


class AmiError(DeployError):
    """The AMI's root volume does not fit the group's settings."""


@dataclass(frozen=True)
class RootDevice:
    """The AMI's root device and its snapshot's size."""

    name: str
    """e.g. /dev/sda1 (Ubuntu DLAMIs)."""
    snapshot_gb: int
    """The smallest root volume the AMI boots from."""


def root_device(image: Any, root_volume_gb: int) -> RootDevice:
    """The root device of a `get_ami` result; AmiError when root_volume_gb is smaller than
    its snapshot (RunInstances would refuse every launch)."""
    name = image.root_device_name
    sizes = [
        int(m.ebs.get("volume_size") or 0)
        for m in image.block_device_mappings
        if m.device_name == name and m.ebs
    ]
    snapshot_gb = max(sizes, default=0)
    if root_volume_gb < snapshot_gb:
        raise AmiError(
            f"targets.aws.group.root_volume_gb is {root_volume_gb} GB, smaller than the "
            f"snapshot of {image.id}'s root volume ({snapshot_gb} GB); raise it"
        )
    return RootDevice(name, snapshot_gb)


HOOK_MARGIN_S = 60
"""The lifecycle hook waits this long past the drain before it goes on by itself."""
HEALTH_GRACE_S = 900
"""The group ignores ELB health for this long after an instance enters service (at least;
or the warm-up if longer). The launch hook already holds an instance until /ready
answers; the grace is a second guard should the hook be completed early."""
LAUNCH_HEARTBEAT_S = 1800
"""The launch hook holds a new instance out of service (and out of the target group) for
this long at most while user data pulls the image and the runtime loads the model; then
the hook abandons it. A constant: the group's initial lifecycle hooks are fixed at its
creation (a change would replace the group)."""
CAPACITY_WAIT = "40m"
"""How long `up` waits for min_replicas in-service instances (a launch hook's heartbeat
and a relaunch after it)."""
REFRESH_CHECKPOINTS = (50, 100)
"""Instance refresh pauses at these percentages replaced (the last must be 100)."""


def group_name(ctx: AwsContext) -> str:
    """The Auto Scaling group's fixed name (the hosts' policy and user data need it)."""
    return fit(AUTOSCALING_GROUP, ctx.names.endpoint)


def hook_name(ctx: AwsContext) -> str:
    """The termination lifecycle hook's name."""
    return fit(LIFECYCLE_HOOK, ctx.names.endpoint, "drain")


def launch_hook_name(ctx: AwsContext) -> str:
    """The launch lifecycle hook's name: user data completes it once /ready answers."""
    return fit(LIFECYCLE_HOOK, ctx.names.endpoint, "launch")


def instances_distribution(spec: DeploymentSpec) -> dict[str, Any]:
    """The mixed policy's split: the spec's on-demand base and percentage on spot; all
    on-demand without spot."""
    group = aws_options(spec).group
    spot = spec.compute.spot
    return {
        "on_demand_base_capacity": spec.compute.on_demand_base if spot else 0,
        "on_demand_percentage_above_base_capacity": (
            group.on_demand_percent_above_base if spot else 100
        ),
        "on_demand_allocation_strategy": "prioritized",
        "spot_allocation_strategy": "price-capacity-optimized",
    }


def scaling_metric(spec: DeploymentSpec) -> str:
    """What target tracking holds: the group setting, else from scaling.target_metric."""
    chosen = aws_options(spec).group.scaling_metric
    if chosen:
        return chosen
    return {
        "invocations_per_instance": "requests_per_target",
        "gpu_utilization": "gpu_utilization",
        "cpu_utilization": "cpu_utilization",
    }[spec.scaling.target_metric]


@dataclass(frozen=True)
class GpuInstanceGroupArgs:
    """What the hosts run and where."""

    ctx: AwsContext
    """The deployment's spec (compute, scaling, targets.aws.group), names, tags, region."""
    image_uri: pulumi.Input[str]
    """The runtime image the stack pushed."""
    model_data_url: pulumi.Input[str]
    """s3:// URL of the bundle's model.tar.gz."""
    log_group: pulumi.Input[str]
    """The containers' log group."""
    instance_profile_arn: pulumi.Input[str]
    """The hosts' instance profile."""
    subnet_ids: list[pulumi.Output[str]]
    """Two private subnets in two zones."""
    security_group_id: pulumi.Input[str]
    """The instances' security group."""
    target_group_arn: pulumi.Input[str]
    """The target group the group registers its instances in."""
    request_count_label: pulumi.Input[str]
    """`app/<lb>/<id>/targetgroup/<tg>/<id>`, for ALBRequestCountPerTarget."""
    environment: pulumi.Input[tuple[tuple[str, str], ...]] = ()
    """Extra INFERSTACK_* settings of the container (data capture: aws/group_capture.py)."""
    after: tuple[pulumi.Resource, ...] = ()
    """What the group's first launches need in place (the network's endpoints, the load
    balancer's listener)."""


class GpuInstanceGroup(pulumi.ComponentResource):
    """A launch template, an Auto Scaling group with spot, its drain hook and scaling."""

    group_name: pulumi.Output[str]
    """The Auto Scaling group's name."""
    launch_template_id: pulumi.Output[str]
    """The launch template."""
    ami_id: pulumi.Output[str]
    """The Deep Learning AMI the hosts boot."""

    def __init__(
        self, name: str, args: GpuInstanceGroupArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:GpuInstanceGroup", name, None, opts)
        ctx = args.ctx
        spec = ctx.spec
        group = aws_options(spec).group
        child = pulumi.ResourceOptions(parent=self)
        ami_id = _ami(group.ami_id, self)
        # The root device and the smallest root volume are the AMI's, read from it: a wrong
        # device name would add a second volume and leave the real root unencrypted.
        device = aws.ec2.get_ami_output(
            filters=ami_id.apply(_image_filter),
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).apply(lambda image: root_device(image, group.root_volume_gb))
        user_data = pulumi.Output.all(
            args.image_uri,
            args.model_data_url,
            args.log_group,
            args.target_group_arn,
            args.environment,
        ).apply(
            lambda v: base64.b64encode(
                render_user_data(
                    UserDataArgs(
                        region=ctx.region,
                        image_uri=v[0],
                        model_data_url=v[1],
                        log_group=v[2],
                        target_group_arn=v[3],
                        asg_name=group_name(ctx),
                        hook_name=hook_name(ctx),
                        launch_hook_name=launch_hook_name(ctx),
                        drain_s=group.drain_s,
                        stop_timeout_s=stop_timeout_s(spec),
                        deregistration_delay_s=group.deregistration_delay_s,
                        metrics_namespace=RUNTIME_NAMESPACE,
                        environment=tuple((k, val) for k, val in v[4]),
                    )
                ).encode()
            ).decode()
        )
        template = aws.ec2.LaunchTemplate(
            auto_logical(LAUNCH_TEMPLATE, f"{name}-template"),
            description=f"inferstack {ctx.names.endpoint}: runtime on GPU",
            image_id=ami_id,
            iam_instance_profile={"arn": args.instance_profile_arn},
            metadata_options={
                "http_endpoint": "enabled",
                "http_tokens": "required",  # IMDSv2 only
                # Hop limit 1: the container cannot reach IMDS. With data capture the
                # runtime in the container writes to S3 itself, so it needs the hosts'
                # role: one more hop (Docker's bridge) lets its SDK reach IMDSv2.
                "http_put_response_hop_limit": imds_hop_limit(spec),
                "instance_metadata_tags": "disabled",
            },
            block_device_mappings=[
                {
                    "device_name": device.apply(lambda d: d.name),
                    # The account's EBS key (aws/ebs): a customer key would need a key
                    # policy grant to the Auto Scaling service-linked role.
                    "ebs": {
                        "volume_size": group.root_volume_gb,
                        "volume_type": "gp3",
                        "encrypted": "true",
                        "delete_on_termination": "true",
                    },
                }
            ],
            network_interfaces=[
                {
                    "device_index": 0,
                    "associate_public_ip_address": "false",
                    "security_groups": [args.security_group_id],
                    "delete_on_termination": "true",
                }
            ],
            user_data=user_data,
            update_default_version=True,
            tag_specifications=[
                {"resource_type": kind, "tags": ctx.tags} for kind in ("instance", "volume")
            ],
            tags=ctx.tags,
            # Without a pinned AMI the parameter's value at the first deploy is kept: AWS
            # republishes it with each DLAMI release, and a new value would start an
            # instance refresh on an unrelated `up`.
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=[] if group.ami_id else ["imageId"]
            ),
        )
        asg = aws.autoscaling.Group(
            f"{name}-asg",
            name=group_name(ctx),
            min_size=spec.scaling.min_replicas,
            max_size=spec.scaling.max_replicas,
            vpc_zone_identifiers=args.subnet_ids,
            target_group_arns=[args.target_group_arn],
            health_check_type="ELB",
            health_check_grace_period=max(HEALTH_GRACE_S, group.warmup_s),
            default_instance_warmup=group.warmup_s,
            capacity_rebalance=spec.compute.spot,
            wait_for_capacity_timeout=CAPACITY_WAIT,
            # A failed spot or capacity launch is routine (the group tries other pools by
            # itself); without this the provider fails `up` on the first one. A real
            # misconfiguration still surfaces as the capacity wait's timeout.
            ignore_failed_scaling_activities=True,
            # Created with the group, so its first instances wait for the runtime too
            # (a separate hook resource would only exist after them).
            initial_lifecycle_hooks=[
                {
                    "name": launch_hook_name(ctx),
                    "lifecycle_transition": "autoscaling:EC2_INSTANCE_LAUNCHING",
                    "default_result": "ABANDON",
                    "heartbeat_timeout": LAUNCH_HEARTBEAT_S,
                }
            ],
            mixed_instances_policy=_mixed_instances(spec, template),
            instance_refresh=_instance_refresh(
                group.refresh_min_healthy_percent,
                group.refresh_max_healthy_percent,
                group.warmup_s,
            ),
            instance_maintenance_policy={
                "min_healthy_percentage": group.refresh_min_healthy_percent,
                "max_healthy_percentage": group.refresh_max_healthy_percent,
            },
            enabled_metrics=GROUP_METRICS,
            tags=_propagated(ctx.tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.after)),
        )
        aws.autoscaling.LifecycleHook(
            f"{name}-drain",
            name=hook_name(ctx),
            autoscaling_group_name=asg.name,
            lifecycle_transition="autoscaling:EC2_INSTANCE_TERMINATING",
            default_result="CONTINUE",
            heartbeat_timeout=drain_budget_s(spec) + HOOK_MARGIN_S,
            opts=child,
        )
        _target_tracking(name, ctx, asg, args.request_count_label, self)
        self.group_name = asg.name
        self.launch_template_id = template.id
        self.ami_id = template.image_id.apply(lambda v: v or "")
        self.register_outputs({"group_name": self.group_name, "ami_id": self.ami_id})


def _ami(pinned: str | None, parent: pulumi.Resource) -> pulumi.Output[str]:
    """The pinned AMI, else the DLAMI parameter's current value (kept by the template's
    ignore_changes once deployed)."""
    if pinned:
        return pulumi.Output.from_input(pinned)
    return aws.ssm.get_parameter_output(
        name=DLAMI_PARAMETER, opts=pulumi.InvokeOutputOptions(parent=parent)
    ).value


def _image_filter(image_id: str) -> Any:
    return [{"name": "image-id", "values": [image_id]}]


GROUP_METRICS: Any = [
    "GroupInServiceInstances",
    "GroupDesiredCapacity",
    "GroupTerminatingInstances",
    "GroupTotalInstances",
]
"""Group metrics collected each minute (the dashboard and alarms read the agent's)."""


def _mixed_instances(spec: DeploymentSpec, template: aws.ec2.LaunchTemplate) -> Any:
    """The GPU kind's types on the template's latest version, with the spot split. Naming
    the version (not $Latest) is what makes a template change start an instance refresh,
    and lets the refresh roll back to the version before."""
    return {
        "instances_distribution": instances_distribution(spec),
        "launch_template": {
            "launch_template_specification": {
                "launch_template_id": template.id,
                "version": template.latest_version.apply(str),
            },
            "overrides": [{"instance_type": t} for t in group_instance_types(spec)],
        },
    }


def _propagated(tags: dict[str, str]) -> Any:
    return [{"key": k, "value": v, "propagate_at_launch": True} for k, v in tags.items()]


def _instance_refresh(min_healthy_percent: int, max_healthy_percent: int, warmup_s: int) -> Any:
    """Rolling replacement on a launch template change, paused at each checkpoint and
    rolled back automatically when the refresh fails. With a maximum above 100 the refresh
    launches replacements before it terminates (the provider's default, 100, terminates
    first: a 2-host group would serve on one during each step)."""
    return {
        "strategy": "Rolling",
        "preferences": {
            "min_healthy_percentage": min_healthy_percent,
            "max_healthy_percentage": max_healthy_percent,
            "checkpoint_percentages": list(REFRESH_CHECKPOINTS),
            "checkpoint_delay": str(warmup_s),
            "instance_warmup": str(warmup_s),
            "auto_rollback": True,
            "skip_matching": True,
        },
    }


def _target_tracking(
    name: str,
    ctx: AwsContext,
    asg: aws.autoscaling.Group,
    request_count_label: pulumi.Input[str],
    parent: pulumi.Resource,
) -> aws.autoscaling.Policy:
    """Target tracking at scaling.target_value of the chosen metric."""
    spec = ctx.spec
    metric = scaling_metric(spec)
    config: Any = {"target_value": spec.scaling.target_value}
    if metric == "requests_per_target":
        config["predefined_metric_specification"] = {
            "predefined_metric_type": "ALBRequestCountPerTarget",
            "resource_label": request_count_label,
        }
    elif metric == "cpu_utilization":
        config["predefined_metric_specification"] = {
            "predefined_metric_type": "ASGAverageCPUUtilization"
        }
    else:
        config["customized_metric_specification"] = {
            "metric_name": "GPUUtilization",
            "namespace": RUNTIME_NAMESPACE,
            "statistic": "Average",
            "unit": "Percent",
            "metric_dimensions": [{"name": "AutoScalingGroupName", "value": asg.name}],
        }
    return aws.autoscaling.Policy(
        auto_logical(AUTOSCALING_POLICY, f"{name}-tracking"),
        autoscaling_group_name=asg.name,
        policy_type="TargetTrackingScaling",
        estimated_instance_warmup=aws_options(spec).group.warmup_s,
        target_tracking_configuration=config,
        opts=pulumi.ResourceOptions(parent=parent),
    )
