"""SageMaker instance facts: vCPUs and GPUs per type, and which families have instance
storage. The alarms and target tracking scale percents by these counts."""

from __future__ import annotations

from typing import NamedTuple

from inferstack.components.target import InstanceSize

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


# --- GPU drivers of SageMaker's real-time hosts (docs/aws.md, "GPU drivers") ---


class InferenceAmi(NamedTuple):
    """One `InferenceAmiVersion` of a production variant: its NVIDIA driver and CUDA."""

    driver: int
    cuda: tuple[int, int]
    families: tuple[str, ...]
    """Instance families the AMI runs on."""


# AWS's ProductionVariant API reference lists the instance types of gpu-2 only (g4dn, g5,
# g6, p3, p4d, p4de, p5); the later AMIs are listed without types and are taken to run on
# the same families.
_AMI_FAMILIES = ("ml.g4dn.", "ml.g5.", "ml.g6.", "ml.p4d.", "ml.p4de.", "ml.p5.")
SAGEMAKER_GPU_AMIS: dict[str, InferenceAmi] = {
    "al2-ami-sagemaker-inference-gpu-2": InferenceAmi(535, (12, 2), _AMI_FAMILIES),
    "al2-ami-sagemaker-inference-gpu-2-1": InferenceAmi(535, (12, 2), _AMI_FAMILIES),
    "al2-ami-sagemaker-inference-gpu-3-1": InferenceAmi(550, (12, 4), _AMI_FAMILIES),
    "al2023-ami-sagemaker-inference-gpu-4-1": InferenceAmi(580, (13, 0), _AMI_FAMILIES),
}
"""GPU `inference_ami_version`s -> driver, CUDA and families (AWS API reference)."""

# What a real-time GPU variant runs without `inference_ami_version` (SageMaker's "GPU
# driver upgrades" page): instance family -> (driver, CUDA).
SAGEMAKER_DEFAULT_GPU_DRIVERS: dict[str, tuple[int, tuple[int, int]]] = {
    "ml.g4dn.": (470, (11, 4)),
    "ml.g5.": (470, (11, 4)),
    "ml.p4d.": (470, (11, 4)),
    "ml.p4de.": (470, (11, 4)),
    "ml.g6.": (535, (12, 2)),
    "ml.p5.": (535, (12, 2)),
}


def gpu_ami_for(instance_type: str, cuda: tuple[int, int]) -> str | None:
    """The GPU AMI that runs `instance_type` with a driver for CUDA `cuda`, oldest first
    (None when none does)."""
    fits = [
        (ami.cuda, name)
        for name, ami in SAGEMAKER_GPU_AMIS.items()
        if ami.cuda >= cuda and instance_type.startswith(ami.families)
    ]
    return min(fits)[1] if fits else None
