"""The Azure ML target (managed online endpoints); its component is not built yet."""

from __future__ import annotations

from pydantic import Field

from inferstack.components.spec.options import CloudTargetOptions
from inferstack.components.target import Target, TargetProfile


class AzureOptions(CloudTargetOptions):
    """Azure-only settings."""

    instance_type: str | None = Field(
        None, description="Azure VM size, e.g. Standard_NC4as_T4_v3 (default: by GPU kind)."
    )


TARGET = Target(
    name="azure",
    profile=TargetProfile(
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
    options=AzureOptions,
)
