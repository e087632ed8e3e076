"""Rules that tie spec fields to each other and to the target's capabilities.

Kept apart from the pydantic models so the rules read as a list and so tests
can reason about them one by one. Each rule raises `SpecRuleError` carrying the
dotted path of the field at fault; `inferstack.components.errors` renders it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferstack.components.targets import get_target, profile

if TYPE_CHECKING:
    from inferstack.components.spec.models import DeploymentSpec


class SpecRuleError(ValueError):
    """A cross-field rule failed; `field` is the dotted path of the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_target_rules(spec: DeploymentSpec) -> None:
    """Raise `SpecRuleError` for the first rule `spec` breaks: the cloud-neutral rules
    against the target's profile, then the target's own rules."""
    for rule in (
        _other_targets,
        _accelerator,
        _instance_type,
        _spot,
        _scaling,
        _auth,
        _prod,
        _variants,
        *get_target(spec.target).rules,
    ):
        rule(spec)


def _other_targets(spec: DeploymentSpec) -> None:
    for name in spec.targets:
        if name != spec.target:
            raise SpecRuleError(
                f"targets.{name}",
                f"only the {name} target reads these settings and this stack deploys to "
                f"{spec.target}; remove them",
            )


def _accelerator(spec: DeploymentSpec) -> None:
    target = profile(spec.target)
    if spec.compute.accelerator not in target.accelerators():
        raise SpecRuleError(
            "compute.accelerator",
            f"{spec.compute.accelerator!r} is not available on {spec.target}; "
            f"choose one of {', '.join(target.accelerators())}",
        )


def _instance_type(spec: DeploymentSpec) -> None:
    target = profile(spec.target)
    override = spec.instance_type_override()
    accelerator = spec.compute.accelerator
    if override and accelerator != "none" and not target.is_gpu_instance(accelerator, override):
        families = ", ".join(target.gpu_families.get(accelerator, ()))
        raise SpecRuleError(
            f"targets.{spec.target}.instance_type",
            f"{override!r} has no {accelerator} GPU; use a type from {families}",
        )
    if override and accelerator == "none":
        gpu = next((g for g in target.gpu_families if target.is_gpu_instance(g, override)), None)
        if gpu:
            raise SpecRuleError(
                f"targets.{spec.target}.instance_type",
                f"{override!r} carries a {gpu} GPU but compute.accelerator is 'none'; "
                f"set compute.accelerator: {gpu}",
            )


def _spot(spec: DeploymentSpec) -> None:
    if spec.compute.spot and not profile(spec.target).spot:
        raise SpecRuleError(
            "compute.spot",
            f"target {spec.target} has no spot capacity for online endpoints; set spot: false",
        )
    if spec.compute.spot and spec.compute.on_demand_base > spec.scaling.max_replicas:
        raise SpecRuleError(
            "compute.on_demand_base",
            f"{spec.compute.on_demand_base} exceeds scaling.max_replicas "
            f"({spec.scaling.max_replicas})",
        )


def _scaling(spec: DeploymentSpec) -> None:
    target = profile(spec.target)
    scaling = spec.scaling
    if scaling.min_replicas == 0 and not target.scale_to_zero:
        raise SpecRuleError(
            "scaling.min_replicas", f"target {spec.target} cannot scale to zero; use 1 or more"
        )
    if not target.autoscaling and scaling.max_replicas != scaling.min_replicas:
        raise SpecRuleError(
            "scaling.max_replicas",
            f"target {spec.target} runs a fixed number of replicas; "
            f"set max_replicas equal to min_replicas ({scaling.min_replicas})",
        )
    if scaling.target_metric == "gpu_utilization" and spec.compute.accelerator == "none":
        raise SpecRuleError(
            "scaling.target_metric", "gpu_utilization needs compute.accelerator to be a GPU"
        )
    for i, window in enumerate(scaling.schedules):
        if window.max_replicas > scaling.max_replicas:
            raise SpecRuleError(
                f"scaling.schedules.{i}.max_replicas",
                f"{window.max_replicas} exceeds scaling.max_replicas ({scaling.max_replicas})",
            )


def _auth(spec: DeploymentSpec) -> None:
    allowed = profile(spec.target).auth_modes
    if spec.gateway.auth not in allowed:
        raise SpecRuleError(
            "gateway.auth",
            f"{spec.gateway.auth!r} is not supported on {spec.target}; "
            f"choose one of {', '.join(allowed)}",
        )


def _prod(spec: DeploymentSpec) -> None:
    if spec.environment != "prod":
        return
    if spec.gateway.auth == "none":
        raise SpecRuleError(
            "gateway.auth", "'none' is not allowed in prod; use api_key, jwt or iam"
        )
    if not spec.gateway.tls:
        raise SpecRuleError("gateway.tls", "TLS cannot be turned off in prod")


def _variants(spec: DeploymentSpec) -> None:
    names = {v.name for v in spec.rollout.variants}
    if spec.model.name in names:
        raise SpecRuleError(
            "rollout.variants", f"a variant may not reuse the model's name {spec.model.name!r}"
        )
    if spec.rollout.variants and spec.rollout.strategy in ("canary", "linear"):
        raise SpecRuleError(
            "rollout.strategy",
            f"{spec.rollout.strategy} shifts traffic between two versions and cannot be "
            "combined with A/B variants; use all_at_once or blue_green with variants",
        )
