"""Azure ML managed online endpoint facts: VM sizes, where they run, what quota they take.

Plain data and arithmetic, no Pulumi or Azure SDK. Sources:
- VM sizes managed online endpoints accept ("Managed online endpoints SKU list",
  https://learn.microsoft.com/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list)
  and their vCPU/GPU counts (the NCasT4_v3, NC_A100_v4, ND_A100_v4, NCads_H100_v5 and
  ND_H100_v5 series pages of https://learn.microsoft.com/azure/virtual-machines/sizes).
- Regions per GPU series ("Products available by region", checked 2026-12; capacity
  changes: `targets.azure.allow_unlisted_region` skips the check).
- The 20% extra quota managed online endpoints reserve for upgrades ("Manage and increase
  quotas", https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas).
"""

from __future__ import annotations

import math

from inferstack.components.target import InstanceSize

AZURE_INSTANCE_SIZES: dict[str, InstanceSize] = {
    # CPU sizes on the managed online SKU list.
    "Standard_DS2_v2": InstanceSize(2),
    "Standard_DS3_v2": InstanceSize(4),
    "Standard_DS4_v2": InstanceSize(8),
    "Standard_DS5_v2": InstanceSize(16),
    "Standard_F2s_v2": InstanceSize(2),
    "Standard_F4s_v2": InstanceSize(4),
    "Standard_F8s_v2": InstanceSize(8),
    "Standard_F16s_v2": InstanceSize(16),
    "Standard_E4s_v3": InstanceSize(4),
    "Standard_E8s_v3": InstanceSize(8),
    # NVIDIA T4 (NCasT4_v3).
    "Standard_NC4as_T4_v3": InstanceSize(4, 1),
    "Standard_NC8as_T4_v3": InstanceSize(8, 1),
    "Standard_NC16as_T4_v3": InstanceSize(16, 1),
    "Standard_NC64as_T4_v3": InstanceSize(64, 4),
    # NVIDIA A100 (NC_A100_v4, ND_A100_v4).
    "Standard_NC24ads_A100_v4": InstanceSize(24, 1),
    "Standard_NC48ads_A100_v4": InstanceSize(48, 2),
    "Standard_NC96ads_A100_v4": InstanceSize(96, 4),
    "Standard_ND96asr_v4": InstanceSize(96, 8),
    # NVIDIA H100 (NCads_H100_v5, ND_H100_v5).
    "Standard_NC40ads_H100_v5": InstanceSize(40, 1),
    "Standard_NC80adis_H100_v5": InstanceSize(80, 2),
    "Standard_ND96isr_H100_v5": InstanceSize(96, 8),
}
"""Sizes the target deploys, with their vCPUs and GPUs."""

GPU_REGIONS: dict[str, tuple[str, ...]] = {
    "nvidia-t4": (
        "australiaeast",
        "centralindia",
        "eastus",
        "eastus2",
        "japaneast",
        "koreacentral",
        "northcentralus",
        "northeurope",
        "southcentralus",
        "southeastasia",
        "uksouth",
        "westeurope",
        "westus2",
    ),
    "nvidia-a100": (
        "australiaeast",
        "eastus",
        "eastus2",
        "southcentralus",
        "westeurope",
        "westus2",
        "westus3",
    ),
    "nvidia-h100": ("eastus", "eastus2", "southcentralus", "westeurope", "westus3"),
}
"""Regions where each GPU series is offered (CPU sizes run in every Azure ML region)."""

UPGRADE_RESERVE = 0.2
"""Share of extra quota Azure ML holds for a deployment's upgrades."""


def quota_vcpus(instance_type: str, max_instances: int) -> int:
    """vCPUs of the VM family's quota one deployment needs at its largest:
    max_instances plus the 20% Azure ML reserves for upgrades, rounded up."""
    size = AZURE_INSTANCE_SIZES[instance_type]
    return math.ceil(max_instances * (1 + UPGRADE_RESERVE)) * size.vcpus


BELOW_RECOMMENDED = frozenset({"Standard_DS2_v2", "Standard_F2s_v2"})
"""Sizes accepted but below Standard_DS3_v2, the minimum Azure ML recommends for
general-purpose online endpoints (`az ml online-deployment create`)."""
