"""The Google GKE target; its component is not built yet."""

from __future__ import annotations

from pydantic import Field

from inferstack.components.spec.options import CloudTargetOptions
from inferstack.components.target import Target, TargetProfile


class GcpOptions(CloudTargetOptions):
    """GKE-only settings."""

    instance_type: str | None = Field(
        None, description="GCE machine type of the GPU node pool (default: by GPU kind)."
    )


TARGET = Target(
    name="gcp",
    profile=TargetProfile(
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
    options=GcpOptions,
)
