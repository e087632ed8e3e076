"""Azure ML's rules for a spec: what the managed online endpoint, Azure Monitor and API
Management refuse, written down so that they fail before anything deploys.

No Pulumi or Azure SDK here: the spec runs these wherever it validates. Each rule
raises `SpecRuleError` naming the field; docs/azure.md lists them with their sources.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

from inferstack.components.azure.limits import AZURE_INSTANCE_SIZES, GPU_REGIONS
from inferstack.components.spec.rules import SpecRuleError
from inferstack.components.targets import profile

if TYPE_CHECKING:
    from inferstack.components.azure.target import AzureOptions
    from inferstack.components.spec.models import DeploymentSpec

SPOT_MESSAGE = (
    "Azure ML managed online endpoints have no low-priority (spot) capacity; on Azure, "
    "spot fits batch scoring on a low-priority compute cluster (targets.azure.batch: a "
    "batch endpoint, see docs/batch.md). Set spot: false for this online endpoint"
)
ACR_IMAGE = re.compile(
    r"^([a-zA-Z0-9]{5,50})\.azurecr\.io/[a-z0-9._/-]+(:[\w.-]+|@sha256:[0-9a-f]{64})$"
)
WORKSPACE_DATASTORE = re.compile(
    r"^azureml://subscriptions/([^/]+)/resourcegroups/([^/]+)/workspaces/([^/]+)/datastores/",
    re.IGNORECASE,
)
MAX_RENEWAL_PERIOD_S = 300
REGISTRY_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
    r"Microsoft\.ContainerRegistry/registries/([^/]+)$",
    re.IGNORECASE,
)


def azure_options(spec: DeploymentSpec) -> AzureOptions:
    """The spec's `targets.azure` settings (defaults when it sets none)."""
    from inferstack.components.azure.target import AzureOptions

    options = spec.options
    if not isinstance(options, AzureOptions):
        raise TypeError(f"a spec for target {spec.target!r} has no Azure settings")
    return options


def _no_spot(spec: DeploymentSpec) -> None:
    if spec.compute.spot:
        raise SpecRuleError("compute.spot", SPOT_MESSAGE)


def _artifacts(spec: DeploymentSpec) -> None:
    """Azure ML registers a local bundle (uploaded) or an azureml:// path, nothing else."""
    previous = azure_options(spec).previous
    artifacts = [("model.artifact", spec.model.artifact)]
    if previous:
        artifacts.append(("targets.azure.previous.artifact", previous.artifact))
    for field, artifact in artifacts:
        if "://" in artifact and not artifact.startswith("azureml://"):
            raise SpecRuleError(
                field, f"{artifact!r}: Azure ML reads a local bundle or azureml:// only"
            )
        _same_workspace(field, artifact, azure_options(spec).workspace_id)
    if spec.rollout.variants:
        raise SpecRuleError(
            "rollout.variants",
            "A/B variants are not built on azure; the endpoint serves blue and green "
            "(targets.azure.live_color and previous)",
        )


def _same_workspace(field: str, artifact: str, workspace_id: str | None) -> None:
    """A datastore path in another workspace is refused: the endpoint's identity can read
    only the storage of the workspace it deploys into (Storage Blob Data Reader there;
    Azure ML assigns a user-assigned identity nothing else)."""
    match = WORKSPACE_DATASTORE.match(artifact)
    if not match:
        return
    where = "/".join(match.groups()).lower()
    if workspace_id is None or _workspace_key(workspace_id) != where:
        raise SpecRuleError(
            field,
            f"{artifact!r} is a datastore of workspace {match.group(3)!r}, which this stack "
            "does not deploy into (its endpoint identity cannot read that storage); use "
            "azureml://datastores/<datastore>/paths/... of the stack's workspace, a local "
            "bundle, or set workspace_id to that workspace",
        )


def _workspace_key(workspace_id: str) -> str:
    parts = workspace_id.strip("/").split("/")
    return f"{parts[1]}/{parts[3]}/{parts[7]}".lower()


def _private(spec: DeploymentSpec) -> None:
    if azure_options(spec).private:
        raise SpecRuleError(
            "targets.azure.private",
            "not built yet: a private endpoint takes scoring requests only through the "
            "workspace's private endpoint, and this target creates no VNet, private "
            "endpoint or private DNS, nor API Management in a VNet, so nothing could reach "
            "it; set private: false (restrict callers with gateway.allowed_cidrs)",
        )


def _rate_window(spec: DeploymentSpec) -> None:
    """rate-limit-by-key's renewal-period is at most 300 seconds."""
    gateway = spec.gateway
    if gateway.rate_limit_rps and gateway.burst:
        window = math.ceil(gateway.burst / gateway.rate_limit_rps)
        if window > MAX_RENEWAL_PERIOD_S:
            raise SpecRuleError(
                "gateway.burst",
                f"{gateway.burst} calls at {gateway.rate_limit_rps:g}/s is a {window} s "
                f"window; API Management's rate-limit-by-key allows {MAX_RENEWAL_PERIOD_S} s "
                "at most: lower burst or raise rate_limit_rps",
            )


def _instance_type(spec: DeploymentSpec) -> None:
    """The VM size is on the managed online SKU list, its GPUs agree with gpu_count, and
    its GPU series is offered in the region."""
    instance_type = spec.instance_type()
    field = "targets.azure.instance_type"
    size = AZURE_INSTANCE_SIZES.get(instance_type)
    if size is None:
        raise SpecRuleError(
            field,
            f"{instance_type!r} is not a VM size this target deploys to managed online "
            f"endpoints; use one of {', '.join(AZURE_INSTANCE_SIZES)}",
        )
    if "gpu_count" in spec.compute.model_fields_set and spec.compute.gpu_count != size.gpus:
        raise SpecRuleError(
            "compute.gpu_count",
            f"{spec.compute.gpu_count} does not match {instance_type}, which has "
            f"{size.gpus} GPU(s); drop gpu_count or choose a size with that many GPUs",
        )
    regions = GPU_REGIONS.get(spec.compute.accelerator)
    region = spec.resolved_region or ""
    if regions and region not in regions and not azure_options(spec).allow_unlisted_region:
        raise SpecRuleError(
            "region",
            f"{spec.compute.accelerator} VMs are not offered in {region!r}; use one of "
            f"{', '.join(regions)} (or targets.azure.allow_unlisted_region after checking "
            "availability and quota)",
        )


def _image(spec: DeploymentSpec) -> None:
    """The image is in an Azure Container Registry, which the endpoint pulls with its
    identity (AcrPull); a registry given by id must be the image's, and one must be
    given unless the workspace exists (a created workspace's registry starts empty)."""
    options = azure_options(spec)
    images = [("targets.azure.image_uri", options.image_uri)]
    if options.previous:
        images.append(("targets.azure.previous.image_uri", options.previous.image_uri))
    for field, image in images:
        if image is None:
            raise SpecRuleError(
                field,
                "required: the runtime image in an Azure Container Registry "
                "(inferstack build, then az acr login and docker push; docs/azure.md)",
            )
        if not ACR_IMAGE.match(image):
            raise SpecRuleError(
                field,
                f"{image!r} is not <registry>.azurecr.io/<repository>:<tag> (or @sha256:...)",
            )
    registry_id = options.image_registry_id
    if not registry_id and not options.workspace_id:
        raise SpecRuleError(
            "targets.azure.image_registry_id",
            "required unless workspace_id is set: the registry this stack creates for a new "
            "workspace is empty on the first deploy, so the image must come from an "
            "existing registry (its resource ID here; the endpoint identity gets AcrPull)",
        )
    if registry_id:
        match = REGISTRY_ID.match(registry_id)
        if not match:
            raise SpecRuleError(
                "targets.azure.image_registry_id", "not a container registry resource ID"
            )
        for field, image in images:
            host = (image or "").split(".", 1)[0].lower()
            if host != match.group(1).lower():
                raise SpecRuleError(
                    field,
                    f"{image!r} is not in the registry {match.group(1)!r} (image_registry_id)",
                )


def _traffic(spec: DeploymentSpec) -> None:
    """Live traffic sums to 100 and mirror traffic only goes to a deployment with no live
    traffic ("Safe rollout for online endpoints")."""
    options = azure_options(spec)
    if options.previous is None:
        if options.traffic_percent not in (None, 100):
            raise SpecRuleError(
                "targets.azure.traffic_percent",
                f"{options.traffic_percent}% leaves {100 - options.traffic_percent}% of the "
                "traffic to no deployment: without previous, live_color takes 100",
            )
        return
    live = live_traffic_percent(spec)
    if options.mirror_percent and live:
        raise SpecRuleError(
            "targets.azure.mirror_percent",
            f"{options.live_color} receives {live}% live traffic; Azure ML mirrors only to a "
            "deployment with no live traffic: set traffic_percent: 0 or mirror_percent: 0",
        )


def _log_retention(spec: DeploymentSpec) -> None:
    """Log Analytics (PerGB2018) keeps data 30 to 730 days."""
    days = spec.observability.log_retention_days
    if not 30 <= days <= 730:
        raise SpecRuleError(
            "observability.log_retention_days",
            f"{days}: Log Analytics keeps data 30 to 730 days; use one of 30 to 730",
        )


def _previous_size(spec: DeploymentSpec) -> None:
    """The other colour's VM size, when set, is one this target deploys with the GPU kind."""
    previous = azure_options(spec).previous
    size = previous.instance_type if previous else None
    if size is None:
        return
    field = "targets.azure.previous.instance_type"
    if size not in AZURE_INSTANCE_SIZES:
        raise SpecRuleError(field, f"{size!r} is not a VM size this target deploys")
    families = profile("azure").gpu_families.get(spec.compute.accelerator, ())
    if spec.compute.accelerator != "none" and not size.startswith(families):
        raise SpecRuleError(field, f"{size!r} has no {spec.compute.accelerator} GPU")


def _schedules(spec: DeploymentSpec) -> None:
    if spec.scaling.schedules:
        raise SpecRuleError(
            "scaling.schedules",
            "scheduled windows are not built on azure (Azure Monitor recurrence profiles "
            "have no end time); remove them",
        )


def _publisher(spec: DeploymentSpec) -> None:
    options = azure_options(spec)
    if not options.publisher_email and not spec.observability.notify_emails:
        raise SpecRuleError(
            "targets.azure.publisher_email",
            "API Management needs a publisher e-mail: set it or observability.notify_emails",
        )
    if options.apim_sku == "Consumption":
        raise SpecRuleError(
            "targets.azure.apim_sku",
            "the Consumption tier has no rate-limit-by-key or quota-by-key policies, which "
            "the gateway's per-caller limits use; use Developer, Basic, Standard or Premium",
        )
    if options.apim_capacity == 0:
        raise SpecRuleError("targets.azure.apim_capacity", "the Consumption tier takes capacity 0")
    if options.apim_sku != "Consumption" and options.apim_capacity < 1:
        raise SpecRuleError(
            "targets.azure.apim_capacity", f"the {options.apim_sku} tier needs 1 unit or more"
        )
    if options.apim_sku in ("Developer", "Basic") and options.apim_capacity > 1:
        raise SpecRuleError(
            "targets.azure.apim_capacity", f"the {options.apim_sku} tier has one unit only"
        )
    if spec.environment == "prod" and options.apim_sku == "Developer":
        raise SpecRuleError(
            "targets.azure.apim_sku", "the Developer tier has no SLA; use Basic or higher in prod"
        )


def live_traffic_percent(spec: DeploymentSpec) -> int:
    """Live traffic to `live_color` (the new version) while `previous` serves the rest."""
    options = azure_options(spec)
    if options.previous is None:
        return 100
    if options.traffic_percent is not None:
        return options.traffic_percent
    rollout = spec.rollout
    by_strategy = {
        "all_at_once": 100.0,
        "canary": rollout.canary_percent,
        "linear": rollout.linear_step_percent,
        "blue_green": 0.0,
    }
    return round(by_strategy[rollout.strategy])


AZURE_RULES = (
    _no_spot,
    _private,
    _artifacts,
    _instance_type,
    _previous_size,
    _image,
    _traffic,
    _schedules,
    _publisher,
    _rate_window,
    _log_retention,
)
"""The Azure target's spec rules, run after the cloud-neutral ones."""
