"""Settings and facts of the EC2 instance group (mode instance_group): which GPU
instance types serve each GPU kind, and the group's tunables under `targets.aws.group`.

No Pulumi or cloud SDK here: the spec validates with it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# EC2 GPU types per GPU kind, smallest first: the mixed instances policy offers them all
# so that spot can pick from several pools (price-capacity-optimized). One GPU each,
# except the p4d/p5 families, which only come with 8.
GROUP_INSTANCE_TYPES: dict[str, tuple[str, ...]] = {
    "nvidia-t4": ("g4dn.xlarge", "g4dn.2xlarge", "g4dn.4xlarge", "g4dn.8xlarge"),
    "nvidia-a10g": ("g5.xlarge", "g5.2xlarge", "g5.4xlarge", "g5.8xlarge"),
    "nvidia-l4": ("g6.xlarge", "g6.2xlarge", "g6.4xlarge", "g6.8xlarge"),
    "nvidia-a100": ("p4d.24xlarge", "p4de.24xlarge"),
    "nvidia-h100": ("p5.48xlarge",),
}
"""GPU kind -> the EC2 instance types the group offers by default."""

GROUP_FAMILIES: dict[str, tuple[str, ...]] = {
    "nvidia-t4": ("g4dn.",),
    "nvidia-a10g": ("g5.",),
    "nvidia-l4": ("g6.",),
    "nvidia-a100": ("p4d.", "p4de."),
    "nvidia-h100": ("p5.",),
}
"""GPU kind -> the EC2 families that carry it (an override must stay inside them)."""

DLAMI_PARAMETER = (
    "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
)
"""The public SSM parameter of the Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu
22.04, x86_64): NVIDIA driver 570 or newer (CUDA 12.8+), Docker and the NVIDIA Container
Toolkit, for G4dn, G5, G6, P4d, P4de and P5 (AWS DLAMI release notes)."""
DLAMI_MIN_CUDA = (12, 8)
"""The oldest CUDA the DLAMI above has shipped with (driver 570): the runtime image's
CUDA must not be newer (aws/group_rules.py checks it)."""


class InstanceGroupOptions(BaseModel):
    """Settings of the EC2 Auto Scaling GPU group (targets.aws.mode instance_group)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    instance_types: tuple[str, ...] = Field(
        (),
        description="EC2 GPU instance types the mixed instances policy offers, all of the "
        "spec's GPU kind (default: four sizes of its family; at most 40).",
    )
    on_demand_percent_above_base: int = Field(
        0,
        ge=0,
        le=100,
        description="Share of the capacity above compute.on_demand_base that is on-demand "
        "(0: all spot).",
    )
    deregistration_delay_s: int = Field(
        30,
        ge=0,
        le=3600,
        description="Seconds the load balancer lets in-flight requests finish on a target "
        "being removed; at least the runtime's drain time.",
    )
    drain_s: int = Field(
        25,
        ge=1,
        le=300,
        description="The runtime's SIGTERM drain bound (INFERSTACK_TIMEOUT_GRACEFUL_SHUTDOWN_S "
        "in the container); the container's stop timeout is 5 s above it.",
    )
    warmup_s: int = Field(
        300,
        ge=0,
        le=3600,
        description="Seconds a new instance is left out of scaling metrics while it pulls "
        "the image and loads the model.",
    )
    refresh_min_healthy_percent: int = Field(
        100,
        ge=0,
        le=100,
        description="Instance refresh (rolling update on a launch template change) and "
        "other replacements (rebalancing, health): capacity kept healthy while instances "
        "are replaced (100: a replacement launches and passes its checks before an old "
        "instance goes).",
    )
    refresh_max_healthy_percent: int = Field(
        200,
        ge=100,
        le=200,
        description="Instance refresh and other replacements: how far above the desired "
        "capacity the group may launch replacements first (at most 100 above "
        "refresh_min_healthy_percent; the extra instances count against the account's "
        "vCPU quota while they run).",
    )
    ami_id: str | None = Field(
        None,
        pattern=r"^ami-[0-9a-f]{8,17}$",
        description="The AMI the hosts boot (a Deep Learning Base OSS Nvidia Driver GPU AMI "
        "or one built from it). Default: the DLAMI's public SSM parameter, read at the first "
        "deploy and kept after that (a newer release is taken only when set here), so an "
        "unrelated `up` never rolls the fleet onto a new driver.",
    )
    root_volume_gb: int = Field(
        100, ge=30, le=16384, description="Encrypted gp3 root volume (the DLAMI needs 30+)."
    )
    vpc_cidr: str = Field(
        "10.42.0.0/16",
        pattern=r"^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/16$",
        description="The group's VPC (a /16; two private /20 subnets in two zones).",
    )
    zones: tuple[str, str] | None = Field(
        None,
        description="Two availability zones of the region (default: its a and b zones).",
    )
    scaling_metric: Literal["requests_per_target", "gpu_utilization", "cpu_utilization"] | None = (
        Field(
            None,
            description="What target tracking holds at scaling.target_value (default: from "
            "scaling.target_metric: requests per target per minute on the load balancer, the "
            "GPU utilisation the instances publish, or the group's CPU).",
        )
    )
