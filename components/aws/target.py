"""The AWS target: SageMaker, or a GPU Auto Scaling group with spot, behind API Gateway.
Its facts (instance types and sizes, instance-store families) and its settings live here."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from inferstack.components.aws.group_options import InstanceGroupOptions
from inferstack.components.aws.group_rules import GROUP_RULES, serving_instance_type
from inferstack.components.aws.limits import AWS_LIMIT_RULES
from inferstack.components.aws.rules import AWS_RULES
from inferstack.components.aws.sizes import AWS_INSTANCE_SIZES
from inferstack.components.spec.options import CloudTargetOptions
from inferstack.components.target import Target, TargetProfile

AwsInferenceMode = Literal["realtime", "serverless", "async", "instance_group"]


class AwsOptions(CloudTargetOptions):
    """AWS settings: the mode (a SageMaker kind or the EC2 instance group), SageMaker's
    instance type, serverless and async settings and VPC, and the instance group's."""

    instance_type: str | None = Field(
        None, description="SageMaker instance type, e.g. ml.g5.2xlarge (default: by GPU kind)."
    )
    inference_ami_version: str | None = Field(
        None,
        description="GPU variants' host image (NVIDIA driver and CUDA), e.g. "
        "al2023-ami-sagemaker-inference-gpu-4-1 (default: the oldest one whose CUDA runs the "
        "runtime's GPU image on the instance type).",
    )
    mode: AwsInferenceMode = Field(
        "realtime",
        description="realtime (SageMaker instances), serverless, async (queued, S3 output), "
        "or instance_group (EC2 Auto Scaling GPU group with spot behind a load balancer; "
        "compute.spot: true selects it when mode is not set).",
    )
    serverless_memory_mb: Literal[1024, 2048, 3072, 4096, 5120, 6144] = Field(
        4096, description="Memory of a serverless endpoint."
    )
    serverless_max_concurrency: int = Field(
        20, ge=1, le=200, description="Concurrent invocations of a serverless endpoint."
    )
    serverless_provisioned_concurrency: int | None = Field(
        None, ge=1, le=200, description="Warm serverless capacity (none: cold starts allowed)."
    )
    async_max_concurrent_per_instance: int = Field(
        4, ge=1, le=1000, description="Concurrent requests per instance of an async endpoint."
    )
    subnet_ids: tuple[str, ...] = Field((), description="VPC subnets of the model containers.")
    security_group_ids: tuple[str, ...] = Field(
        (), description="Security groups of the model containers (with subnet_ids)."
    )
    network_isolation: bool = Field(
        False, description="Deny the model container any outbound network access."
    )
    # Account-wide and artifact settings (docs/aws.md: account logging, s3:// artifacts).
    manage_account_logging: bool = Field(
        False,
        description="Set API Gateway's CloudWatch logging role for the whole account and "
        "region (aws.apigateway.Account, one per account and region): turn on in one stack "
        "per account and region only. Without it, execution logs need the role set "
        "elsewhere; access logs work either way.",
    )
    execution_logging: bool = Field(
        False,
        description="API Gateway execution logs (ERROR level) of the stage. They need the "
        "account's CloudWatch logging role (API Gateway refuses the stage otherwise): on "
        "whenever manage_account_logging is; set true where another stack owns the role.",
    )
    group: InstanceGroupOptions = Field(
        default_factory=InstanceGroupOptions,
        description="Settings of mode instance_group (docs/aws.md: the spot instance group).",
    )
    image_uri: str | None = Field(
        None,
        description="ECR image of the runtime that every variant runs "
        "(<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>, built for linux/amd64 "
        "in the spec's CPU or GPU flavour); required when an artifact is s3://.",
    )


TARGET = Target(
    name="aws",
    profile=TargetProfile(
        name="aws",
        default_region="us-east-1",
        instance_types={
            "none": "ml.c6i.xlarge",
            "nvidia-t4": "ml.g4dn.xlarge",
            "nvidia-a10g": "ml.g5.xlarge",
            "nvidia-l4": "ml.g6.xlarge",
            "nvidia-a100": "ml.p4d.24xlarge",
            "nvidia-h100": "ml.p5.48xlarge",
        },
        gpu_families={
            "nvidia-t4": ("ml.g4dn.", "g4dn."),
            "nvidia-a10g": ("ml.g5.", "g5."),
            "nvidia-l4": ("ml.g6.", "g6."),
            "nvidia-a100": ("ml.p4d.", "ml.p4de.", "p4d.", "p4de."),
            "nvidia-h100": ("ml.p5.", "p5."),
        },
        # SageMaker has no spot capacity; spot runs on the EC2 instance group
        # (mode instance_group), which compute.spot: true selects (aws/group_rules.py).
        spot=True,
        scale_to_zero=True,
        auth_modes=("api_key", "jwt", "iam", "none"),
        instance_sizes=AWS_INSTANCE_SIZES,
    ),
    options=AwsOptions,
    rules=(*AWS_RULES, *AWS_LIMIT_RULES, *GROUP_RULES),
    component="inferstack.components.aws.endpoint:AwsEndpoint",
    plan_fakes=("inferstack.components.image.plan_fakes", "inferstack.components.aws.plan_fakes"),
    serving_instance_type=serving_instance_type,
)
