"""SageMaker limits that the spec's field ranges cannot say alone, and what a rollout
really does on a small fleet. Plain functions over the spec: no Pulumi, no cloud SDK.

Each rule raises `SpecRuleError` naming the field; docs/aws.md lists them with the
AWS page each comes from.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from inferstack.components.aws.rules import aws_options, group_mode
from inferstack.components.spec.rules import SpecRuleError

if TYPE_CHECKING:
    from inferstack.components.spec.models import DeploymentSpec


def _serverless_provisioned_within_max(spec: DeploymentSpec) -> None:
    """ProvisionedConcurrency must not exceed MaxConcurrency (ProductionVariantServerless
    Config); CreateEndpointConfig refuses it."""
    options = aws_options(spec)
    provisioned = options.serverless_provisioned_concurrency
    if options.mode != "serverless" or provisioned is None:
        return
    if provisioned > options.serverless_max_concurrency:
        raise SpecRuleError(
            "targets.aws.serverless_provisioned_concurrency",
            f"{provisioned} is above serverless_max_concurrency "
            f"({options.serverless_max_concurrency}); SageMaker keeps at most the maximum "
            "warm: lower it or raise serverless_max_concurrency",
        )


def _realtime_windows_keep_an_instance(spec: DeploymentSpec) -> None:
    """A realtime endpoint's scalable target has MinCapacity >= 1: a scheduled action that
    sets 0 fails when it runs, long after `pulumi up` succeeded."""
    if aws_options(spec).mode != "realtime" or group_mode(spec):
        return
    for i, window in enumerate(spec.scaling.schedules):
        for bound in ("min_replicas", "max_replicas"):
            if getattr(window, bound) < 1:
                raise SpecRuleError(
                    f"scaling.schedules.{i}.{bound}",
                    f"window {window.name!r}: a realtime SageMaker endpoint keeps at least "
                    "one instance; use 1 or more, or targets.aws.mode: async",
                )


def step_instances(percent: float, fleet: int) -> int:
    """How many instances SageMaker gives a CAPACITY_PERCENT step of `percent` on a fleet of
    `fleet`: whole instances, rounded up, at least one."""
    return max(1, min(fleet, math.ceil(round(percent) * fleet / 100)))


def rollout_share_note(spec: DeploymentSpec) -> str | None:
    """What share of traffic the first step of a canary or linear rollout really gets at
    the initial fleet size, when whole instances make it larger than asked; else None."""
    rollout = spec.rollout
    if aws_options(spec).mode == "serverless" or group_mode(spec):
        return None
    if rollout.strategy not in ("canary", "linear"):
        return None
    asked = rollout.canary_percent if rollout.strategy == "canary" else rollout.linear_step_percent
    fleet = max(1, spec.scaling.min_replicas)
    instances = step_instances(asked, fleet)
    real = 100 * instances / fleet
    if round(real) <= round(asked):
        return None
    return (
        f"rollout: a {asked:g}% {rollout.strategy} step on {fleet} instance(s) is "
        f"{instances} whole instance(s), so the new model first gets {real:g}% of the "
        "traffic (SageMaker sizes steps in whole instances of the new fleet); the share "
        "follows the fleet's size when autoscaling has changed it"
    )


AWS_LIMIT_RULES = (_serverless_provisioned_within_max, _realtime_windows_keep_an_instance)
"""The rules of this module, added to the AWS target's rules."""
