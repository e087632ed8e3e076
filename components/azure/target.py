"""The Azure ML target: a managed online endpoint behind API Management.

Its profile, its settings (`targets.azure:` in the spec) and its rules live here;
no Pulumi and no Azure SDK is imported, so a spec validates anywhere.
"""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from inferstack.components.azure.batch_options import AzureBatchOptions
from inferstack.components.azure.batch_rules import BATCH_RULES
from inferstack.components.azure.limits import AZURE_INSTANCE_SIZES
from inferstack.components.azure.rules import AZURE_RULES
from inferstack.components.spec.options import CloudTargetOptions
from inferstack.components.target import Target, TargetProfile

Color = Literal["blue", "green"]
ApimSku = Literal["Consumption", "Developer", "Basic", "Standard", "Premium"]


class _Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class ProbeOptions(_Settings):
    """A liveness or readiness probe of the deployment (Azure ML's ProbeSettings)."""

    initial_delay_s: int = Field(10, ge=1, le=3600, description="Seconds before the first probe.")
    period_s: int = Field(10, ge=1, le=3600, description="Seconds between probes.")
    timeout_s: int = Field(2, ge=1, le=3600, description="Seconds a probe may take.")
    failure_threshold: int = Field(
        30, ge=1, le=100, description="Failed probes before the container counts as down."
    )


class PreviousDeployment(_Settings):
    """The version serving on the other colour while a rollout moves traffic."""

    model_version: str = Field(description="Model version the other colour serves.")
    image_uri: str = Field(description="The runtime image of that version (ACR).")
    artifact: str = Field(
        description="Bundle of that version (local path or azureml://), as the stack "
        "registered it when that version was live (so its model version is kept)."
    )
    instance_type: str | None = Field(
        None,
        description="VM size the other colour runs (default: the spec's); a new size goes "
        "to the idle colour, since Azure ML cannot change a deployment's size in place.",
    )


class AzureOptions(CloudTargetOptions):
    """Azure-only settings: workspace, image, endpoint auth, request settings, colours,
    API Management."""

    instance_type: str | None = Field(
        None, description="Azure VM size, e.g. Standard_NC4as_T4_v3 (default: by GPU kind)."
    )
    workspace_id: str | None = Field(
        None,
        description="Resource ID of an existing Azure ML workspace to deploy into (its "
        "resource group, storage, key vault and registry are used); default: create one.",
        pattern=r"^/subscriptions/[^/]+/resourceGroups/[^/]+/providers/"
        r"Microsoft\.MachineLearningServices/workspaces/[^/]+$",
    )
    image_uri: str | None = Field(
        None,
        description="The runtime image (built by `inferstack build` for linux/amd64 in the "
        "spec's CPU or GPU flavour) in an Azure Container Registry: "
        "<registry>.azurecr.io/<repo>:<tag> or @sha256:<digest>. Required.",
    )
    image_registry_id: str | None = Field(
        None,
        description="Resource ID of the existing container registry holding image_uri "
        "(the endpoint's identity gets AcrPull on it and on the workspace's registry). "
        "Required unless workspace_id is set (then default: the workspace's registry), "
        "since a created workspace's registry is empty on the first deploy.",
    )
    endpoint_auth: Literal["key", "aad_token"] = Field(
        "key", description="How the endpoint itself authenticates (API Management calls it)."
    )
    private: bool = Field(
        False,
        description="Turn the endpoint's public network access off (private link). Not "
        "built yet and refused: it needs a workspace private endpoint, private DNS and API "
        "Management in a VNet (docs/azure.md).",
    )
    request_timeout_ms: int = Field(
        5000, ge=1, le=180000, description="Scoring timeout per request (Azure ML: 180 s max)."
    )
    max_concurrent_requests_per_instance: int = Field(
        1, ge=1, le=1000, description="Requests one instance handles at once."
    )
    liveness_probe: ProbeOptions = Field(default_factory=ProbeOptions, description="Liveness.")
    readiness_probe: ProbeOptions = Field(
        default_factory=lambda: ProbeOptions(failure_threshold=3), description="Readiness."
    )
    live_color: Color = Field(
        "blue", description="The deployment (blue or green) that serves model.version."
    )
    previous: PreviousDeployment | None = Field(
        None,
        description="The version on the other colour during a rollout; remove it when the "
        "rollout is done.",
    )
    traffic_percent: int | None = Field(
        None,
        ge=0,
        le=100,
        description="Live traffic to live_color while previous is set (default: by "
        "rollout.strategy: canary_percent, linear_step_percent, 0 for blue_green, 100 "
        "for all_at_once).",
    )
    mirror_percent: int = Field(
        0, ge=0, le=50, description="Shadow traffic copied to live_color (Azure ML: 50 max)."
    )
    apim_sku: ApimSku = Field("Developer", description="API Management tier.")
    apim_capacity: int = Field(1, ge=0, le=12, description="API Management units.")
    publisher_email: str | None = Field(
        None, description="API Management publisher e-mail (default: first notify_emails)."
    )
    key_vault_retention_days: int = Field(
        90, ge=7, le=90, description="Days a deleted key vault stays recoverable."
    )
    allow_unlisted_region: bool = Field(
        False,
        description="Deploy a VM size to a region the target's table does not list for it "
        "(after checking availability and quota yourself).",
    )
    batch: AzureBatchOptions = Field(
        default_factory=AzureBatchOptions,
        description="Batch scoring: a batch endpoint on a low-priority compute cluster that "
        "scales to zero (`inferstack score --stack`); off unless enabled.",
    )

    @model_validator(mode="after")
    def _mirror_needs_idle(self) -> Self:
        if self.mirror_percent and self.previous is None:
            raise ValueError(
                "mirror_percent copies traffic to live_color while previous serves the live "
                "traffic; set previous (the version on the other colour) or mirror_percent: 0"
            )
        return self


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
        # Managed online endpoints have no low-priority capacity. The profile lets the
        # cloud-neutral rule pass so that azure/rules.py refuses spot with the message
        # that says where spot fits on Azure (batch scoring on low-priority compute).
        spot=True,
        # Nothing on this platform moves traffic back when an alert fires.
        rollback_on_alarms=False,
        auth_modes=("api_key", "jwt", "none"),
        instance_sizes=AZURE_INSTANCE_SIZES,
    ),
    options=AzureOptions,
    rules=AZURE_RULES + BATCH_RULES,
    component="inferstack.components.azure.endpoint:AzureEndpoint",
    plan_fakes=(
        "inferstack.components.azure.plan_fakes",
        "inferstack.components.azure.batch_plan_fakes",
    ),
)
