"""SageMaker Model(s), EndpointConfiguration and Endpoint with a rollout policy.

The plain functions (`production_variants`, `deployment_config`, ...) decide
everything from the spec and are tested on their own; `SageMakerEndpoint` only
declares the resources they describe.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.common import primary_variant
from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.endpoint_provider import SageMakerEndpointResource
from inferstack.components.aws.naming import (
    SAGEMAKER_ENDPOINT,
    SAGEMAKER_ENDPOINT_CONFIG,
    SAGEMAKER_MODEL,
    auto_logical,
    fit,
)
from inferstack.components.aws.rules import aws_options, gpu_ami_version, rollout_timeout_s
from inferstack.components.aws.sizes import AWS_INSTANCE_STORE_FAMILIES
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.contract import Env

MAX_ROLLBACK_ALARMS = 10
ROLLBACK_S = 1800
"""How long past the rollout's own timeout the provider waits for a rollback to end."""
MIN_WAIT_S = 3600
"""The least the provider waits for an endpoint to start (GPU fleets take 10-20 minutes)."""

# pulumi-aws's typed input dicts for the EndpointConfiguration and Endpoint blocks.
ProductionVariant = aws.sagemaker.EndpointConfigurationProductionVariantArgsDict
ServerlessConfig = aws.sagemaker.EndpointConfigurationProductionVariantServerlessConfigArgsDict
DataCaptureConfig = aws.sagemaker.EndpointConfigurationDataCaptureConfigArgsDict
AsyncInferenceConfig = aws.sagemaker.EndpointConfigurationAsyncInferenceConfigArgsDict
DeploymentConfig = dict[str, Any]
"""UpdateEndpoint's `DeploymentConfig`, as botocore takes it."""


@dataclass(frozen=True)
class VariantPlan:
    """One production variant: name, version, traffic weight and initial instances."""

    name: str
    model_version: str
    weight: float
    replicas: int


def variant_plans(spec: DeploymentSpec) -> tuple[VariantPlan, ...]:
    """The production variants of `spec`, primary first, with weights and instances."""
    primary_weight = spec.rollout.primary_weight if spec.rollout.variants else 1.0
    primary = VariantPlan(
        primary_variant(spec), spec.model.version, primary_weight, max(1, spec.scaling.min_replicas)
    )
    return (
        primary,
        *(
            VariantPlan(v.name, v.model_version, v.weight, v.replicas)
            for v in spec.rollout.variants
        ),
    )


def volume_kms_allowed(instance_type: str) -> bool:
    """Whether SageMaker accepts a volume KMS key for `instance_type`."""
    return not instance_type.startswith(AWS_INSTANCE_STORE_FAMILIES)


def production_variants(
    spec: DeploymentSpec, model_names: Mapping[str, pulumi.Input[str]]
) -> list[ProductionVariant]:
    """EndpointConfiguration `production_variants` for `spec` (`model_names` by variant)."""
    options = aws_options(spec)
    out: list[ProductionVariant] = []
    for plan in variant_plans(spec):
        variant: ProductionVariant = {
            "variant_name": plan.name,
            "model_name": model_names[plan.name],
            "initial_variant_weight": plan.weight,
        }
        if options.mode == "serverless":
            serverless: ServerlessConfig = {
                "memory_size_in_mb": options.serverless_memory_mb,
                "max_concurrency": options.serverless_max_concurrency,
            }
            if options.serverless_provisioned_concurrency:
                serverless["provisioned_concurrency"] = options.serverless_provisioned_concurrency
            variant["serverless_config"] = serverless
        else:
            variant["instance_type"] = spec.instance_type()
            variant["initial_instance_count"] = plan.replicas
            variant["container_startup_health_check_timeout_in_seconds"] = 600
            variant["model_data_download_timeout_in_seconds"] = 1200
            ami = gpu_ami_version(spec)
            if ami:  # the default GPU drivers are older than the image's CUDA (aws/rules.py)
                variant["inference_ami_version"] = ami
        out.append(variant)
    return out


def data_capture_config(
    spec: DeploymentSpec, destination: pulumi.Input[str], key_arn: pulumi.Input[str]
) -> DataCaptureConfig | None:
    """Data capture settings, or None when the spec captures nothing."""
    percent = spec.observability.data_capture_percent
    if percent <= 0:
        return None
    return {
        "enable_capture": True,
        # SageMaker takes whole percents; any non-zero share captures at least 1%.
        "initial_sampling_percentage": max(1, round(percent)),
        "destination_s3_uri": destination,
        "kms_key_id": key_arn,
        "capture_options": [{"capture_mode": "Input"}, {"capture_mode": "Output"}],
        "capture_content_type_header": {
            "json_content_types": ["application/json"],
            "csv_content_types": ["text/csv"],
        },
    }


def async_inference_config(
    spec: DeploymentSpec, output: pulumi.Input[str], key_arn: pulumi.Input[str]
) -> AsyncInferenceConfig | None:
    """Async inference settings, or None unless the spec's mode is async."""
    if aws_options(spec).mode != "async":
        return None
    return {
        "output_config": {
            "s3_output_path": pulumi.Output.concat(output, "/output"),
            "s3_failure_path": pulumi.Output.concat(output, "/failures"),
            "kms_key_id": key_arn,
        },
        "client_config": {
            "max_concurrent_invocations_per_instance": (
                aws_options(spec).async_max_concurrent_per_instance
            ),
        },
    }


def deployment_config(
    spec: DeploymentSpec, rollback_alarms: Sequence[str]
) -> DeploymentConfig | None:
    """The endpoint's blue/green update policy and rollback alarms from `spec.rollout`.

    all_at_once shifts all traffic at once and keeps no bake; blue_green shifts all at
    once and bakes before the old fleet goes; canary and linear shift in steps, each
    watched for `bake_time_s`. Serverless endpoints take none (SageMaker has no
    guardrails for them).
    """
    rollout = spec.rollout
    if aws_options(spec).mode == "serverless":
        return None
    bake = 0 if rollout.strategy == "all_at_once" else rollout.bake_time_s
    routing: dict[str, Any] = {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": bake}
    if rollout.strategy == "canary":
        routing = {
            "Type": "CANARY",
            "WaitIntervalInSeconds": bake,
            "CanarySize": {
                "Type": "CAPACITY_PERCENT",
                "Value": max(1, round(rollout.canary_percent)),
            },
        }
    elif rollout.strategy == "linear":
        step = max(1, round(rollout.linear_step_percent))
        routing = {
            "Type": "LINEAR",
            "WaitIntervalInSeconds": bake,
            "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": step},
        }
    config: DeploymentConfig = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": routing,
            "TerminationWaitInSeconds": bake,
            # Every bake plus the new fleet's start-up; aws/rules.py refuses past 28800.
            "MaximumExecutionTimeoutInSeconds": rollout_timeout_s(spec),
        }
    }
    if rollout.auto_rollback and rollback_alarms:
        config["AutoRollbackConfiguration"] = {
            "Alarms": [{"AlarmName": a} for a in rollback_alarms]  # validate() caps the count
        }
    return config


def wait_timeout_s(spec: DeploymentSpec) -> int:
    """How long the endpoint provider waits for a create or an update (rollback included)."""
    if aws_options(spec).mode == "serverless":
        return MIN_WAIT_S
    return max(MIN_WAIT_S, rollout_timeout_s(spec) + ROLLBACK_S)


def container_environment(spec: DeploymentSpec, plan: VariantPlan, endpoint: str) -> dict[str, str]:
    """Environment of a variant's container (the runtime reads INFERSTACK_*).

    The runtime prints its drift scores as CloudWatch EMF lines with the endpoint and
    variant as dimensions; the drift alarms watch them.
    """
    return {
        Env.MODEL_NAME: spec.model.name,
        Env.MODEL_VERSION: plan.model_version,
        Env.VARIANT: plan.name,
        Env.ENVIRONMENT: spec.environment,
        Env.ENDPOINT_NAME: endpoint,
        Env.CLOUDWATCH_EMF: "true",
    }


@dataclass(frozen=True)
class SageMakerEndpointArgs:
    """What the endpoint's models run and where they read and write."""

    ctx: AwsContext
    """The deployment's spec (variants, mode, rollout), names and tags."""
    role_arn: pulumi.Input[str]
    """The execution role SageMaker assumes."""
    image_uris: Mapping[str, pulumi.Input[str]]
    """variant -> the runtime image it runs."""
    model_data_urls: Mapping[str, pulumi.Input[str]]
    """variant -> s3:// URL of the model.tar.gz it serves."""
    key_arn: pulumi.Input[str]
    """The stack's KMS key: volumes, data capture and async output."""
    capture_uri: pulumi.Input[str]
    """s3:// prefix data capture writes to."""
    async_output_uri: pulumi.Input[str]
    """s3:// prefix of async results (`/output`) and failures (`/failures`)."""
    rollback_alarms: Sequence[str] = ()
    """Alarms that roll a blue/green deployment back."""


class SageMakerEndpoint(pulumi.ComponentResource):
    """One Model per variant, an EndpointConfiguration and the Endpoint that serves it."""

    endpoint_name: pulumi.Output[str]
    """The endpoint's name."""
    endpoint_arn: pulumi.Output[str]
    """The endpoint's ARN."""
    config_name: pulumi.Output[str]
    """The current endpoint configuration's name."""
    model_names: dict[str, pulumi.Output[str]]
    """variant -> SageMaker model name."""

    def __init__(
        self, name: str, args: SageMakerEndpointArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:SageMakerEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # The endpoint provider deletes a configuration and its models once the endpoint no
        # longer serves them; Pulumi only drops them from state (docs/aws.md, rollouts).
        kept = pulumi.ResourceOptions(parent=self, retain_on_delete=True)
        ctx, key_arn = args.ctx, args.key_arn
        spec = ctx.spec
        options = aws_options(spec)
        models: dict[str, aws.sagemaker.Model] = {}
        for plan in variant_plans(spec):
            models[plan.name] = aws.sagemaker.Model(
                auto_logical(SAGEMAKER_MODEL, f"{name}-model-{plan.name}"),
                execution_role_arn=args.role_arn,
                primary_container={
                    "image": args.image_uris[plan.name],
                    "model_data_url": args.model_data_urls[plan.name],
                    "environment": container_environment(spec, plan, ctx.names.endpoint),
                },
                enable_network_isolation=options.network_isolation,
                vpc_config={
                    "subnets": list(options.subnet_ids),
                    "security_group_ids": list(options.security_group_ids),
                }
                if options.subnet_ids
                else None,
                tags={**ctx.tags, "inferstack:variant": plan.name},
                opts=kept,
            )
        model_names = {variant: model.name for variant, model in models.items()}
        serverless = options.mode == "serverless"
        config = aws.sagemaker.EndpointConfiguration(
            auto_logical(SAGEMAKER_ENDPOINT_CONFIG, f"{name}-config"),
            production_variants=production_variants(spec, model_names),
            kms_key_arn=key_arn
            if not serverless and volume_kms_allowed(spec.instance_type())
            else None,
            data_capture_config=data_capture_config(spec, args.capture_uri, key_arn),
            async_inference_config=async_inference_config(spec, args.async_output_uri, key_arn),
            tags=ctx.tags,
            opts=kept,
        )
        endpoint = SageMakerEndpointResource(
            f"{name}-endpoint",
            name=fit(SAGEMAKER_ENDPOINT, ctx.names.endpoint),
            region=ctx.region,
            endpoint_config_name=config.name,
            deployment_config=deployment_config(spec, args.rollback_alarms),
            tags=ctx.tags,
            wait_timeout_s=wait_timeout_s(spec),
            opts=child,
        )
        self.endpoint_name = endpoint.name
        self.endpoint_arn = endpoint.arn
        self.config_name = config.name
        self.model_names = model_names
        self.register_outputs(
            {
                "endpoint_name": self.endpoint_name,
                "endpoint_arn": self.endpoint_arn,
                "config_name": self.config_name,
            }
        )
