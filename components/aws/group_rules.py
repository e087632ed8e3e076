"""The EC2 instance group's rules (mode instance_group): which key selects the mode, what
EC2 Auto Scaling, Elastic Load Balancing and spot refuse or lose, written down so that
they fail before anything deploys. docs/aws.md lists each with its AWS page.

No cloud SDK or Pulumi here: the spec runs these wherever it validates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from inferstack.components.aws.group_options import (
    DLAMI_MIN_CUDA,
    GROUP_FAMILIES,
    GROUP_INSTANCE_TYPES,
)
from inferstack.components.aws.rules import aws_options, group_mode, runtime_gpu_cuda
from inferstack.components.aws.sizes import AWS_INSTANCE_SIZES
from inferstack.components.spec.rules import SpecRuleError

if TYPE_CHECKING:
    from inferstack.components.spec.models import DeploymentSpec

MAX_INSTANCE_TYPES = 40
"""Instance types one mixed instances policy may list (CreateAutoScalingGroup,
MixedInstancesPolicy.LaunchTemplate.Overrides: at most 40 items)."""
SPOT_NOTICE_S = 120
"""The spot interruption notice: two minutes before EC2 reclaims the instance."""
NOTICE_MARGIN_S = 10
"""Of the notice, what the drain script needs to see it (5 s polls) and to complete."""
WAITER_SLACK_S = 15
"""The drain's deregistration wait runs up to the delay plus one poll of the AWS CLI's
target-deregistered waiter (15 s), aws/group_drain.py."""
STOP_MARGIN_S = 5
"""The container's stop timeout is the runtime's drain bound plus this."""


def group_instance_types(spec: DeploymentSpec) -> tuple[str, ...]:
    """The EC2 types the group's mixed instances policy offers: the spec's, else the
    defaults of its GPU kind (empty for a CPU spec, which the rules refuse)."""
    chosen = aws_options(spec).group.instance_types
    return chosen or GROUP_INSTANCE_TYPES.get(spec.compute.accelerator, ())


def serving_instance_type(spec: DeploymentSpec) -> str:
    """The type a spec's replicas run on: in the group, its first (smallest) type, the one
    spot and on-demand prices are quoted for; else SageMaker's `spec.instance_type()`."""
    types = group_instance_types(spec) if group_mode(spec) else ()
    return types[0] if types else spec.instance_type()


def stop_timeout_s(spec: DeploymentSpec) -> int:
    """`docker stop --time` of the drain: the runtime's drain bound and a margin."""
    return aws_options(spec).group.drain_s + STOP_MARGIN_S


def drain_budget_s(spec: DeploymentSpec) -> int:
    """Seconds the drain takes at most: the deregistration wait (the load balancer's delay
    and the waiter's last poll), then the container's stop timeout."""
    delay = aws_options(spec).group.deregistration_delay_s
    return delay + WAITER_SLACK_S + stop_timeout_s(spec)


def _mode_agrees(spec: DeploymentSpec) -> None:
    """spot: true with a SageMaker mode set, or group settings outside the group: say
    which key to change."""
    options = aws_options(spec)
    explicit = "mode" in options.model_fields_set
    if spec.compute.spot and explicit and options.mode != "instance_group":
        raise SpecRuleError(
            "compute.spot",
            f"targets.aws.mode is {options.mode!r}, and SageMaker has no spot capacity; "
            "set targets.aws.mode: instance_group (or remove it) to run on spot, or "
            "compute.spot: false to stay on SageMaker",
        )
    if "group" in options.model_fields_set and not group_mode(spec):
        raise SpecRuleError(
            "targets.aws.group",
            f"only mode instance_group reads it and the mode is {options.mode!r}; set "
            "targets.aws.mode: instance_group (or compute.spot: true), or remove it",
        )


def _sagemaker_settings_unused(spec: DeploymentSpec) -> None:
    """SageMaker-only keys would be silently ignored by the group."""
    options = aws_options(spec)
    moved = {
        "instance_type": "targets.aws.group.instance_types",
        "inference_ami_version": None,
        "subnet_ids": "targets.aws.group.vpc_cidr (the group makes its own VPC)",
        "security_group_ids": None,
        "network_isolation": None,
    }
    for key, instead in moved.items():
        if key in options.model_fields_set and getattr(options, key):
            raise SpecRuleError(
                f"targets.aws.{key}",
                "a SageMaker setting that the instance group does not read; remove it"
                + (f" (use {instead})" if instead else ""),
            )


def _group_shape(spec: DeploymentSpec) -> None:
    """What one Auto Scaling group behind one target group can serve."""
    refusals = (
        (
            "compute.accelerator",
            spec.compute.accelerator == "none",
            "the instance group runs GPU instances; set a GPU kind, or "
            "targets.aws.mode: realtime for CPU on SageMaker",
        ),
        (
            "rollout.variants",
            bool(spec.rollout.variants),
            "the instance group serves one model version (rolling updates by instance "
            "refresh); remove rollout.variants or use SageMaker (targets.aws.mode: realtime)",
        ),
        (
            "rollout.strategy",
            spec.rollout.strategy in ("canary", "linear"),
            "the instance group updates by instance refresh (rolling, with checkpoints and "
            "rollback); use all_at_once or blue_green",
        ),
        (
            "scaling.min_replicas",
            spec.scaling.min_replicas < 1,
            "target tracking on the load balancer cannot scale out from zero instances "
            "(no targets, no requests counted); use 1 or more",
        ),
        (
            "scaling.schedules",
            bool(spec.scaling.schedules),
            "scheduled windows are not built for the instance group yet; remove them",
        ),
    )
    for field, broken, message in refusals:
        if broken:
            raise SpecRuleError(field, message)


def _group_instance_types(spec: DeploymentSpec) -> None:
    """Only types of the spec's GPU kind, each known, at most MAX_INSTANCE_TYPES, and
    as many GPUs as compute.gpu_count when it is set."""
    field = "targets.aws.group.instance_types"
    accelerator = spec.compute.accelerator
    types = group_instance_types(spec)
    if len(types) > MAX_INSTANCE_TYPES:
        raise SpecRuleError(
            field,
            f"{len(types)} types; a mixed instances policy lists at most {MAX_INSTANCE_TYPES}",
        )
    if len(set(types)) != len(types):
        raise SpecRuleError(field, "lists a type twice")
    families = GROUP_FAMILIES.get(accelerator, ())
    for t in types:
        if not t.startswith(families):
            raise SpecRuleError(
                field,
                f"{t!r} does not carry compute.accelerator {accelerator} "
                f"(its families: {', '.join(families)})",
            )
        if f"ml.{t}" not in AWS_INSTANCE_SIZES:
            raise SpecRuleError(field, f"no vCPU/GPU count known for {t!r}")
    if "gpu_count" in spec.compute.model_fields_set:
        wrong = [t for t in types if AWS_INSTANCE_SIZES[f"ml.{t}"].gpus != spec.compute.gpu_count]
        if wrong:
            raise SpecRuleError(
                "compute.gpu_count",
                f"{spec.compute.gpu_count} GPU(s), and {', '.join(wrong)} have another count; "
                "drop gpu_count or list types with that many GPUs",
            )


def _group_drain_fits(spec: DeploymentSpec) -> None:
    """The load balancer must wait for the runtime's drain, and on spot the whole drain
    must end inside the two-minute notice."""
    group = aws_options(spec).group
    if group.deregistration_delay_s < group.drain_s:
        raise SpecRuleError(
            "targets.aws.group.deregistration_delay_s",
            f"{group.deregistration_delay_s}s is shorter than the runtime's drain "
            f"(drain_s {group.drain_s}s): the load balancer would cut requests still "
            "running; raise it to drain_s or more",
        )
    budget = drain_budget_s(spec)
    if spec.compute.spot and budget > SPOT_NOTICE_S - NOTICE_MARGIN_S:
        raise SpecRuleError(
            "targets.aws.group.deregistration_delay_s",
            f"deregistration ({group.deregistration_delay_s}s, and up to {WAITER_SLACK_S}s "
            f"for the waiter to see it) and the container's stop ({stop_timeout_s(spec)}s) "
            f"take {budget}s, and a spot instance goes "
            f"{SPOT_NOTICE_S}s after its notice ({NOTICE_MARGIN_S}s of it for the drain "
            "script): lower deregistration_delay_s or drain_s",
        )


def _group_replacement_range(spec: DeploymentSpec) -> None:
    """Instance refresh and the instance maintenance policy refuse a healthy range wider
    than 100 points (StartInstanceRefresh, InstanceMaintenancePolicy)."""
    group = aws_options(spec).group
    low, high = group.refresh_min_healthy_percent, group.refresh_max_healthy_percent
    if high - low > 100:
        raise SpecRuleError(
            "targets.aws.group.refresh_max_healthy_percent",
            f"{high} is more than 100 above refresh_min_healthy_percent ({low}); EC2 Auto "
            "Scaling refuses the range: lower it or raise the minimum",
        )


def _group_cuda(spec: DeploymentSpec) -> None:
    """The DLAMI's driver must run the runtime image's CUDA."""
    cuda = runtime_gpu_cuda()
    if cuda > DLAMI_MIN_CUDA:
        raise SpecRuleError(
            "compute.accelerator",
            f"the runtime's GPU image needs CUDA {cuda[0]}.{cuda[1]}, newer than the Deep "
            f"Learning AMI's driver guarantees ({DLAMI_MIN_CUDA[0]}.{DLAMI_MIN_CUDA[1]})",
        )


def _group_zones(spec: DeploymentSpec) -> None:
    zones = aws_options(spec).group.zones
    region = spec.resolved_region or ""
    if zones is None:
        return
    if zones[0] == zones[1]:
        raise SpecRuleError(
            "targets.aws.group.zones", "the load balancer needs two different zones"
        )
    outside = [z for z in zones if not (z.startswith(region) and len(z) == len(region) + 1)]
    if outside:
        raise SpecRuleError(
            "targets.aws.group.zones", f"{', '.join(outside)} not zones of {region}"
        )
    beyond = [z for z in zones if not "a" <= z[-1] <= "p"]
    if beyond:
        raise SpecRuleError(
            "targets.aws.group.zones",
            f"{', '.join(beyond)}: each zone's subnet is the /20 of vpc_cidr at its letter "
            "(a to p)",
        )


def _only_in_group(rule: Callable[[DeploymentSpec], None]) -> Callable[[DeploymentSpec], None]:
    """`rule`, checked in mode instance_group only."""

    def checked(spec: DeploymentSpec) -> None:
        if group_mode(spec):
            rule(spec)

    checked.__name__ = rule.__name__
    checked.__doc__ = rule.__doc__
    return checked


GROUP_RULES = (
    _mode_agrees,
    _only_in_group(_sagemaker_settings_unused),
    _only_in_group(_group_shape),
    _only_in_group(_group_instance_types),
    _only_in_group(_group_drain_fits),
    _only_in_group(_group_replacement_range),
    _only_in_group(_group_cuda),
    _only_in_group(_group_zones),
)
"""The rules of this module, added to the AWS target's rules."""
