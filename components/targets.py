"""Per-target facts in one table: GPU instance types, sizes, regions, capabilities.

Everything a target folder needs to turn a cloud-neutral spec into native
resources, and everything the spec needs to refuse an impossible combination,
is read from here so that no default is scattered across the code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

TargetName = Literal["local", "aws", "azure", "gcp"]
Accelerator = Literal["none", "nvidia-t4", "nvidia-a10g", "nvidia-l4", "nvidia-a100", "nvidia-h100"]

TARGET_NAMES: tuple[TargetName, ...] = ("local", "aws", "azure", "gcp")

# SageMaker instance families with local NVMe storage: SageMaker refuses a volume KMS
# key for them because the instance store is hardware-encrypted.
AWS_INSTANCE_STORE_FAMILIES = (
    "ml.g4dn.",
    "ml.g5.",
    "ml.g6.",
    "ml.g6e.",
    "ml.p3dn.",
    "ml.p4d.",
    "ml.p4de.",
    "ml.p5.",
    "ml.m5d.",
    "ml.c5d.",
    "ml.r5d.",
    "ml.inf2.",
    "ml.trn1.",
)


@dataclass(frozen=True)
class InstanceSize:
    """How many vCPUs and GPUs one instance of a type has.

    SageMaker reports CPUUtilization and GPUUtilization summed over these
    (0-100 x vCPUs, 0-100 x GPUs), so a percent of the whole instance needs them.
    """

    vcpus: int
    """Virtual CPUs of one instance."""
    gpus: int = 0
    """GPUs of one instance (0 for CPU types)."""


def _family(prefix: str, sizes: dict[str, tuple[int, int]]) -> dict[str, InstanceSize]:
    return {f"{prefix}.{size}": InstanceSize(*counts) for size, counts in sizes.items()}


# size -> (vCPUs, GPUs); SageMaker's ml.* types have their EC2 twin's counts.
_C6I = {
    "large": (2, 0),
    "xlarge": (4, 0),
    "2xlarge": (8, 0),
    "4xlarge": (16, 0),
    "8xlarge": (32, 0),
    "12xlarge": (48, 0),
    "16xlarge": (64, 0),
    "24xlarge": (96, 0),
    "32xlarge": (128, 0),
}
_M5 = {
    "large": (2, 0),
    "xlarge": (4, 0),
    "2xlarge": (8, 0),
    "4xlarge": (16, 0),
    "12xlarge": (48, 0),
    "24xlarge": (96, 0),
}
# g4dn, g5 and g6 share their shapes: one GPU per instance except 12xlarge, 24xlarge
# (4) and 48xlarge (8); g4dn stops at 16xlarge.
_G4DN = {
    "xlarge": (4, 1),
    "2xlarge": (8, 1),
    "4xlarge": (16, 1),
    "8xlarge": (32, 1),
    "12xlarge": (48, 4),
    "16xlarge": (64, 1),
}
_G5_G6 = {**_G4DN, "24xlarge": (96, 4), "48xlarge": (192, 8)}

AWS_INSTANCE_SIZES: dict[str, InstanceSize] = {
    **_family("ml.c6i", _C6I),
    **_family("ml.m5", _M5),
    **_family("ml.g4dn", _G4DN),
    **_family("ml.g5", _G5_G6),
    **_family("ml.g6", _G5_G6),
    "ml.p4d.24xlarge": InstanceSize(96, 8),
    "ml.p5.48xlarge": InstanceSize(192, 8),
}
"""SageMaker instance type -> vCPUs and GPUs, for the types the AWS target knows."""


@dataclass(frozen=True)
class TargetProfile:
    """What one target offers: instance types per accelerator and its capabilities."""

    name: TargetName
    default_region: str | None
    # accelerator -> default instance (or node machine) type
    instance_types: dict[str, str]
    # accelerator -> instance-type prefixes that carry that GPU (for overrides)
    gpu_families: dict[str, tuple[str, ...]] = field(default_factory=dict)
    spot: bool = False
    scale_to_zero: bool = False
    autoscaling: bool = True
    auth_modes: tuple[str, ...] = ("api_key", "jwt", "iam", "none")
    # instance type -> vCPUs and GPUs, for the types whose metrics the target scales
    instance_sizes: dict[str, InstanceSize] = field(default_factory=dict)

    def accelerators(self) -> tuple[str, ...]:
        """The accelerator kinds this target can provide, `none` included."""
        return tuple(self.instance_types)

    def is_gpu_instance(self, accelerator: str, instance_type: str) -> bool:
        """Whether `instance_type` carries `accelerator` on this target."""
        return instance_type.startswith(self.gpu_families.get(accelerator, ()))

    def instance_size(self, instance_type: str) -> InstanceSize:
        """vCPUs and GPUs of `instance_type`; KeyError names the known types."""
        try:
            return self.instance_sizes[instance_type]
        except KeyError:
            known = ", ".join(self.instance_sizes) or "none"
            raise KeyError(
                f"no vCPU/GPU count for {instance_type!r} on {self.name}; known: {known}"
            ) from None


TARGETS: dict[str, TargetProfile] = {
    "local": TargetProfile(
        name="local",
        default_region=None,
        # The host's GPU, if any, is passed through to the container.
        instance_types={
            "none": "host",
            "nvidia-t4": "host-gpu",
            "nvidia-a10g": "host-gpu",
            "nvidia-l4": "host-gpu",
            "nvidia-a100": "host-gpu",
            "nvidia-h100": "host-gpu",
        },
        autoscaling=False,
        auth_modes=("api_key", "none"),
    ),
    "aws": TargetProfile(
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
        # SageMaker real-time endpoints have no spot capacity; the EC2 Auto Scaling
        # path with mixed instances (DESIGN.md) is not built yet, so spot is refused.
        spot=False,
        scale_to_zero=True,
        auth_modes=("api_key", "jwt", "iam", "none"),
        instance_sizes=AWS_INSTANCE_SIZES,
    ),
    "azure": TargetProfile(
        name="azure",
        default_region="eastus",
        instance_types={
            "none": "Standard_DS3_v2",
            "nvidia-t4": "Standard_NC4as_T4_v3",
            "nvidia-a100": "Standard_NC24ads_A100_v4",
            "nvidia-h100": "Standard_NC40ads_H100_v5",
        },
        gpu_families={
            "nvidia-t4": (
                "Standard_NC4as_T4",
                "Standard_NC8as_T4",
                "Standard_NC16as_T4",
                "Standard_NC64as_T4",
            ),
            "nvidia-a100": (
                "Standard_NC24ads_A100",
                "Standard_NC48ads_A100",
                "Standard_NC96ads_A100",
                "Standard_ND96asr",
            ),
            "nvidia-h100": (
                "Standard_NC40ads_H100",
                "Standard_NC80adis_H100",
                "Standard_ND96isr_H100",
            ),
        },
        # Managed online endpoints have no low-priority capacity.
        spot=False,
        auth_modes=("api_key", "jwt", "none"),
    ),
    "gcp": TargetProfile(
        name="gcp",
        default_region="us-central1",
        instance_types={
            "none": "n2-standard-4",
            "nvidia-t4": "n1-standard-8",
            "nvidia-l4": "g2-standard-8",
            "nvidia-a100": "a2-highgpu-1g",
            "nvidia-h100": "a3-highgpu-1g",
        },
        gpu_families={
            "nvidia-t4": ("n1-",),
            "nvidia-l4": ("g2-",),
            "nvidia-a100": ("a2-",),
            "nvidia-h100": ("a3-",),
        },
        spot=True,
        auth_modes=("api_key", "jwt", "iam", "none"),
    ),
}


def profile(target: str) -> TargetProfile:
    """The profile of `target`; KeyError names the known targets."""
    try:
        return TARGETS[target]
    except KeyError:
        raise KeyError(f"unknown target {target!r}; known: {', '.join(TARGETS)}") from None
