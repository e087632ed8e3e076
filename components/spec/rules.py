"""Rules that tie spec fields to each other and to the target's capabilities.

Kept apart from the pydantic models so the rules read as a list and so tests
can reason about them one by one. Each rule raises `SpecRuleError` carrying the
dotted path of the field at fault; `inferstack.components.errors` renders it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from inferstack.components.targets import profile

if TYPE_CHECKING:
    from inferstack.components.spec.models import DeploymentSpec


class SpecRuleError(ValueError):
    """A cross-field rule failed; `field` is the dotted path of the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_target_rules(spec: DeploymentSpec) -> None:
    """Raise `SpecRuleError` for the first rule `spec` breaks on its target."""
    for rule in (
        _accelerator,
        _instance_type,
        _spot,
        _scaling,
        _auth,
        _prod,
        _variants,
        _aws,
        _local,
    ):
        rule(spec)


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
    override = getattr(spec.compute.instance_type, spec.target, None)
    accelerator = spec.compute.accelerator
    if override and accelerator != "none" and not target.is_gpu_instance(accelerator, override):
        families = ", ".join(target.gpu_families.get(accelerator, ()))
        raise SpecRuleError(
            f"compute.instance_type.{spec.target}",
            f"{override!r} has no {accelerator} GPU; use a type from {families}",
        )
    if override and accelerator == "none":
        gpu = next((g for g in target.gpu_families if target.is_gpu_instance(g, override)), None)
        if gpu:
            raise SpecRuleError(
                f"compute.instance_type.{spec.target}",
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


_COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/[\w-]+_\w+$")


def _aws_gpu_count(spec: DeploymentSpec) -> None:
    """On SageMaker the instance type fixes the GPUs; an explicit gpu_count must agree."""
    instance_type = spec.instance_type()
    sizes = profile("aws").instance_sizes
    if "gpu_count" not in spec.compute.model_fields_set or instance_type not in sizes:
        return
    gpus = sizes[instance_type].gpus
    if spec.compute.gpu_count != gpus:
        raise SpecRuleError(
            "compute.gpu_count",
            f"{spec.compute.gpu_count} does not match {instance_type}, which has {gpus} GPU(s); "
            "drop gpu_count or choose an instance type with that many GPUs",
        )


def _aws(spec: DeploymentSpec) -> None:
    """SageMaker's limits: artifact schemes, serverless and async modes, VPC, JWT issuers."""
    if spec.target != "aws":
        return
    artifacts = [("model.artifact", spec.model.artifact)] + [
        (f"rollout.variants.{i}.artifact", v.artifact)
        for i, v in enumerate(spec.rollout.variants)
        if v.artifact
    ]
    for field, artifact in artifacts:
        if "://" in artifact and not artifact.startswith("s3://"):
            raise SpecRuleError(field, f"{artifact!r}: SageMaker reads a local path or s3:// only")
    if not spec.gateway.tls:
        raise SpecRuleError("gateway.tls", "API Gateway serves HTTPS only; remove tls: false")
    options = spec.compute.aws
    if bool(options.subnet_ids) != bool(options.security_group_ids):
        raise SpecRuleError(
            "compute.aws.subnet_ids", "set subnet_ids and security_group_ids together"
        )
    if spec.scaling.min_replicas == 0 and options.mode == "realtime":
        raise SpecRuleError(
            "scaling.min_replicas",
            "a realtime SageMaker endpoint cannot scale to zero; use 1 or more, "
            "or compute.aws.mode: async (or serverless)",
        )
    if options.mode == "serverless":
        _aws_serverless(spec)
    _aws_gpu_count(spec)
    jwt = spec.gateway.jwt
    if spec.gateway.auth == "jwt" and jwt is not None and not _COGNITO_ISSUER.match(jwt.issuer):
        raise SpecRuleError(
            "gateway.jwt.issuer",
            "API Gateway (REST) validates JWTs from Cognito user pools only "
            "(https://cognito-idp.<region>.amazonaws.com/<pool id>); "
            "use auth: iam or api_key for other issuers",
        )


def _aws_serverless(spec: DeploymentSpec) -> None:
    refusals = (
        (
            "compute.accelerator",
            spec.compute.accelerator != "none",
            "SageMaker serverless endpoints have no GPU; set accelerator: none or mode: realtime",
        ),
        (
            "rollout.variants",
            bool(spec.rollout.variants),
            "a serverless endpoint serves one variant; remove rollout.variants",
        ),
        (
            "observability.data_capture_percent",
            spec.observability.data_capture_percent > 0,
            "SageMaker serverless endpoints do not capture data; set 0 or mode: realtime",
        ),
        (
            "compute.aws.subnet_ids",
            bool(spec.compute.aws.subnet_ids),
            "SageMaker serverless endpoints cannot run in a VPC",
        ),
        (
            "rollout.strategy",
            spec.rollout.strategy in ("canary", "linear"),
            "SageMaker serverless endpoints shift traffic all at once; "
            "use all_at_once or blue_green",
        ),
    )
    for field, broken, message in refusals:
        if broken:
            raise SpecRuleError(field, message)


# Gateway settings that only a cloud gateway enforces; the local target's only gateway is
# the runtime's own API-key check, so setting them there would promise what nothing does.
_CLOUD_GATEWAY_FIELDS = ("rate_limit_rps", "burst", "quota_per_day", "allowed_cidrs", "waf", "jwt")


def _local(spec: DeploymentSpec) -> None:
    if spec.target != "local":
        if "local" in spec.model_fields_set:
            raise SpecRuleError(
                "local", f"only the local target reads it; remove it from the {spec.target} stack"
            )
        return
    if spec.gateway.tls:
        raise SpecRuleError(
            "gateway.tls", "the local target serves plain HTTP on 127.0.0.1; set tls: false"
        )
    for field in _CLOUD_GATEWAY_FIELDS:
        if field in spec.gateway.model_fields_set:
            raise SpecRuleError(
                f"gateway.{field}",
                "not enforced by the local target (its only gateway is the runtime's API-key "
                "check); remove it from the local stack",
            )
