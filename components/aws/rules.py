"""SageMaker's rules for a spec: what CreateEndpoint, CreateEndpointConfig and API
Gateway refuse, written down so that they fail before anything deploys.

No cloud SDK or Pulumi here: the spec runs these wherever it validates.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from inferstack.components.aws.sizes import AWS_INSTANCE_SIZES
from inferstack.components.spec.rules import SpecRuleError

if TYPE_CHECKING:
    from inferstack.components.aws.target import AwsOptions
    from inferstack.components.spec.models import DeploymentSpec


def aws_options(spec: DeploymentSpec) -> AwsOptions:
    """The spec's `targets.aws` settings (defaults when it sets none)."""
    from inferstack.components.aws.target import AwsOptions

    options = spec.options
    if not isinstance(options, AwsOptions):
        raise TypeError(f"a spec for target {spec.target!r} has no AWS settings")
    return options


_COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/[\w-]+_\w+$")


def _aws_gpu_count(spec: DeploymentSpec) -> None:
    """On SageMaker the instance type fixes the GPUs; an explicit gpu_count must agree."""
    instance_type = spec.instance_type()
    sizes = AWS_INSTANCE_SIZES
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
    options = aws_options(spec)
    if bool(options.subnet_ids) != bool(options.security_group_ids):
        raise SpecRuleError(
            "targets.aws.subnet_ids", "set subnet_ids and security_group_ids together"
        )
    if spec.scaling.min_replicas == 0 and options.mode == "realtime":
        raise SpecRuleError(
            "scaling.min_replicas",
            "a realtime SageMaker endpoint cannot scale to zero; use 1 or more, "
            "or targets.aws.mode: async (or serverless)",
        )
    if options.mode == "serverless":
        _aws_serverless(spec)
    else:
        _aws_instance_type_known(spec)
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
            "targets.aws.subnet_ids",
            bool(aws_options(spec).subnet_ids),
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


def _aws_instance_type_known(spec: DeploymentSpec) -> None:
    """The utilisation alarms scale their percents by the type's vCPU and GPU counts."""
    instance_type = spec.instance_type()
    if instance_type not in AWS_INSTANCE_SIZES:
        raise SpecRuleError(
            "targets.aws.instance_type",
            f"no vCPU/GPU count for {instance_type!r} (the utilisation alarms need one); "
            f"known types: {', '.join(AWS_INSTANCE_SIZES)}",
        )


def _sagemaker_traffic_shifting(spec: DeploymentSpec) -> None:
    """What CreateEndpoint refuses at `pulumi up`: traffic-shifting step sizes."""
    rollout = spec.rollout
    if rollout.strategy == "canary" and round(rollout.canary_percent) > 50:
        raise SpecRuleError(
            "rollout.canary_percent",
            f"{rollout.canary_percent:g} is above 50; "
            "SageMaker's canary is at most half of the new fleet",
        )
    if rollout.strategy == "linear" and not 10 <= round(rollout.linear_step_percent) <= 50:
        raise SpecRuleError(
            "rollout.linear_step_percent",
            f"{rollout.linear_step_percent:g} is outside 10-50; "
            "SageMaker's linear steps are 10-50% of the new fleet",
        )


def _serverless_isolation(spec: DeploymentSpec) -> None:
    options = aws_options(spec)
    if options.mode == "serverless" and options.network_isolation:
        raise SpecRuleError(
            "targets.aws.network_isolation",
            "SageMaker serverless endpoints do not support network isolation; "
            "set false or mode: realtime",
        )


AWS_RULES = (_aws, _sagemaker_traffic_shifting, _serverless_isolation)
