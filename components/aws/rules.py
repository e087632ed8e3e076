"""SageMaker's rules for a spec: what CreateEndpoint, CreateEndpointConfig and API
Gateway refuse, written down so that they fail before anything deploys.

No cloud SDK or Pulumi here: the spec runs these wherever it validates.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from inferstack.components.aws.sizes import (
    AWS_INSTANCE_SIZES,
    SAGEMAKER_DEFAULT_GPU_DRIVERS,
    SAGEMAKER_GPU_AMIS,
    gpu_ami_for,
)
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


def group_mode(spec: DeploymentSpec) -> bool:
    """Whether the spec runs on the EC2 instance group rather than SageMaker: mode
    instance_group, or compute.spot: true with no mode set (SageMaker has no spot)."""
    options = aws_options(spec)
    if options.mode == "instance_group":
        return True
    return spec.compute.spot and "mode" not in options.model_fields_set


_COGNITO_ISSUER = re.compile(r"^https://cognito-idp\.[a-z0-9-]+\.amazonaws\.com/[\w-]+_\w+$")


def _aws_gpu_count(spec: DeploymentSpec) -> None:
    """On SageMaker the instance type fixes the GPUs; an explicit gpu_count must agree."""
    if group_mode(spec):
        return  # aws/group_rules.py checks the group's types
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
    _cognito_issuer(spec)
    if group_mode(spec):
        return  # the rest is SageMaker's; aws/group_rules.py has the group's
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


def _cognito_issuer(spec: DeploymentSpec) -> None:
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
    if group_mode(spec):
        return
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
    if group_mode(spec):
        return
    options = aws_options(spec)
    if options.mode == "serverless" and options.network_isolation:
        raise SpecRuleError(
            "targets.aws.network_isolation",
            "SageMaker serverless endpoints do not support network isolation; "
            "set false or mode: realtime",
        )


# --- Rollout timeline and GPU hosts (docs/aws.md: "Roll out and roll back") ---

MAX_ROLLOUT_S = 28800
"""SageMaker's ceiling on a blue/green deployment (MaximumExecutionTimeoutInSeconds)."""
MIN_ROLLOUT_S = 600
"""SageMaker's floor on MaximumExecutionTimeoutInSeconds."""
PROVISIONING_S = 3600
"""Allowance for the new fleet to start and pass /ping before traffic shifts."""


def rollout_waits(spec: DeploymentSpec) -> int:
    """How many `bake_time_s` waits a rollout of `spec` makes: one per traffic step that
    is watched, plus the termination wait before the old fleet goes."""
    rollout = spec.rollout
    if rollout.strategy == "all_at_once":
        return 0
    if rollout.strategy == "canary":
        return 2  # the canary's bake, then the termination wait
    if rollout.strategy == "linear":
        return math.ceil(100 / max(1, round(rollout.linear_step_percent))) + 1
    return 1  # blue_green: the termination wait


def rollout_timeout_s(spec: DeploymentSpec) -> int:
    """MaximumExecutionTimeoutInSeconds a rollout of `spec` needs (may exceed AWS's
    ceiling; `_sagemaker_rollout_fits` refuses that)."""
    return max(MIN_ROLLOUT_S, rollout_waits(spec) * spec.rollout.bake_time_s + PROVISIONING_S)


def _sagemaker_rollout_fits(spec: DeploymentSpec) -> None:
    """A rollout whose bakes add up past SageMaker's 8 hours is refused at UpdateEndpoint."""
    if aws_options(spec).mode == "serverless" or group_mode(spec):
        return
    needed = rollout_timeout_s(spec)
    if needed <= MAX_ROLLOUT_S:
        return
    rollout = spec.rollout
    shape = (
        f"{rollout_waits(spec) - 1} linear steps of {rollout.linear_step_percent:g}% "
        if rollout.strategy == "linear"
        else f"a {rollout.strategy} rollout "
    )
    raise SpecRuleError(
        "rollout.bake_time_s",
        f"{shape}with bake_time_s {rollout.bake_time_s} (plus the termination wait and "
        f"{PROVISIONING_S}s for the new fleet to start) needs {needed}s, and SageMaker stops "
        f"a deployment at {MAX_ROLLOUT_S}s; lower rollout.bake_time_s"
        + (" or raise rollout.linear_step_percent" if rollout.strategy == "linear" else ""),
    )


def runtime_gpu_cuda() -> tuple[int, int]:
    """The CUDA version of the runtime's GPU image (its nvidia/cuda base image)."""
    from inferstack.components.image.context import GPU_BASE_IMAGE

    found = re.search(r"cuda:(\d+)\.(\d+)", GPU_BASE_IMAGE)
    if found is None:
        raise ValueError(f"no CUDA version in the GPU base image {GPU_BASE_IMAGE!r}")
    return int(found.group(1)), int(found.group(2))


def gpu_ami_version(spec: DeploymentSpec) -> str | None:
    """The `inference_ami_version` of the spec's variants: the spec's, else the oldest GPU
    AMI whose CUDA runs the runtime's GPU image; None on CPU and serverless."""
    options = aws_options(spec)
    if options.mode == "serverless" or spec.compute.accelerator == "none":
        return options.inference_ami_version
    return options.inference_ami_version or gpu_ami_for(spec.instance_type(), runtime_gpu_cuda())


def _sagemaker_gpu_host(spec: DeploymentSpec) -> None:
    """The GPU host's driver must run the image's CUDA, or the container never starts
    (CannotStartContainerError): SageMaker's default drivers (470, 535) are too old for it."""
    if group_mode(spec):
        return
    options = aws_options(spec)
    field = "targets.aws.inference_ami_version"
    chosen = options.inference_ami_version
    gpu = spec.compute.accelerator != "none" and options.mode != "serverless"
    if not gpu:
        if chosen:
            raise SpecRuleError(field, "a GPU host image needs a GPU instance; remove it")
        return
    instance_type, cuda = spec.instance_type(), runtime_gpu_cuda()
    wanted = f"CUDA {cuda[0]}.{cuda[1]}"
    if chosen is None:
        if gpu_ami_for(instance_type, cuda) is None:
            default = SAGEMAKER_DEFAULT_GPU_DRIVERS.get(_family(instance_type))
            raise SpecRuleError(
                "compute.accelerator",
                f"no SageMaker GPU host image runs {instance_type} with a driver for the "
                f"runtime's {wanted}"
                + (
                    f" (its default driver {default[0]} has CUDA {_v(default[1])})"
                    if default
                    else ""
                )
                + "; choose an instance type of "
                + ", ".join(sorted({f for a in SAGEMAKER_GPU_AMIS.values() for f in a.families})),
            )
        return
    ami = SAGEMAKER_GPU_AMIS.get(chosen)
    if ami is None:
        raise SpecRuleError(
            field,
            f"{chosen!r} is not a SageMaker GPU host image; "
            f"use one of {', '.join(SAGEMAKER_GPU_AMIS)}",
        )
    if ami.cuda < cuda:
        raise SpecRuleError(
            field,
            f"{chosen} has NVIDIA driver {ami.driver} (CUDA {_v(ami.cuda)}), older than the "
            f"runtime's GPU image needs ({wanted}): the container would not start; remove it "
            f"or use {gpu_ami_for(instance_type, cuda) or 'a newer image'}",
        )
    if not instance_type.startswith(ami.families):
        raise SpecRuleError(
            field,
            f"{chosen} does not run on {instance_type} (it runs on {', '.join(ami.families)})",
        )


def _family(instance_type: str) -> str:
    return instance_type.rsplit(".", 1)[0] + "."


def _v(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


AWS_RULES = (
    _aws,
    _sagemaker_traffic_shifting,
    _serverless_isolation,
    _sagemaker_rollout_fits,
    _sagemaker_gpu_host,
)
