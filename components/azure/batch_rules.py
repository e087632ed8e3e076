"""The spec rules of `targets.azure.batch`: what AmlCompute and batch deployments refuse,
checked before anything deploys. No Pulumi or Azure SDK here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferstack.components.azure.limits import AZURE_INSTANCE_SIZES, GPU_REGIONS
from inferstack.components.azure.rules import azure_options
from inferstack.components.spec.rules import SpecRuleError
from inferstack.components.targets import profile

if TYPE_CHECKING:
    from inferstack.components.azure.batch_options import AzureBatchOptions
    from inferstack.components.spec.models import DeploymentSpec

FIELD = "targets.azure.batch"


def batch_options(spec: DeploymentSpec) -> AzureBatchOptions:
    """The spec's `targets.azure.batch` settings (defaults: off)."""
    return azure_options(spec).batch


def batch_instance_type(spec: DeploymentSpec) -> str:
    """The cluster's VM size: the batch setting, else the online deployment's."""
    return batch_options(spec).instance_type or spec.instance_type()


def _batch_size(spec: DeploymentSpec) -> None:
    """The cluster's VM size is one the target knows, has the spec's GPU kind, and its
    GPU series is offered in the region; scoring processes fit its vCPUs."""
    options = batch_options(spec)
    if not options.enabled:
        return
    size_name = batch_instance_type(spec)
    size = AZURE_INSTANCE_SIZES.get(size_name)
    if size is None:
        raise SpecRuleError(
            f"{FIELD}.instance_type",
            f"{size_name!r} is not a VM size this target deploys; use one of "
            f"{', '.join(AZURE_INSTANCE_SIZES)}",
        )
    accelerator = spec.compute.accelerator
    families = profile("azure").gpu_families.get(accelerator, ())
    if accelerator != "none" and not size_name.startswith(families):
        raise SpecRuleError(
            f"{FIELD}.instance_type",
            f"{size_name!r} has no {accelerator} GPU, which the bundle is built for",
        )
    regions = GPU_REGIONS.get(accelerator)
    region = spec.resolved_region or ""
    if regions and region not in regions and not azure_options(spec).allow_unlisted_region:
        raise SpecRuleError(
            "region", f"{accelerator} VMs are not offered in {region!r}; use one of {regions}"
        )
    if options.max_concurrency_per_instance > size.vcpus:
        raise SpecRuleError(
            f"{FIELD}.max_concurrency_per_instance",
            f"{options.max_concurrency_per_instance} scoring processes on {size_name}, which "
            f"has {size.vcpus} vCPUs; use at most {size.vcpus}",
        )


def _batch_endpoint_auth(spec: DeploymentSpec) -> None:
    """Batch endpoints take Microsoft Entra tokens only (no keys); nothing to set, but a
    private workspace (refused for the online endpoint) would hide this one too."""
    if batch_options(spec).enabled and azure_options(spec).private:
        raise SpecRuleError(
            FIELD, "a private batch endpoint is not built; set targets.azure.private: false"
        )


BATCH_RULES = (_batch_size, _batch_endpoint_auth)
"""The batch settings' rules, run after the Azure target's own."""


def low_priority_vcpus(spec: DeploymentSpec) -> int:
    """vCPUs of the region's low-priority (or the family's dedicated) quota the cluster
    takes at max_nodes."""
    options = batch_options(spec)
    return AZURE_INSTANCE_SIZES[batch_instance_type(spec)].vcpus * options.max_nodes
