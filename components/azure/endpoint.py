"""`AzureEndpoint`: the spec on an Azure ML managed online endpoint behind API Management."""

from __future__ import annotations

import pulumi
import pulumi_azure_native as azure_native

from inferstack.components.azure.autoscale import DeploymentAutoscale, DeploymentAutoscaleArgs
from inferstack.components.azure.batch import BatchScoring, BatchScoringArgs
from inferstack.components.azure.capture import CaptureContainer, CaptureContainerArgs, capture_on
from inferstack.components.azure.context import context_for
from inferstack.components.azure.gateway import ApiGateway, ApiGatewayArgs
from inferstack.components.azure.limits import BELOW_RECOMMENDED, quota_vcpus
from inferstack.components.azure.model import ModelAssets, ModelAssetsArgs, ModelSource
from inferstack.components.azure.observability import Observability, ObservabilityArgs
from inferstack.components.azure.roles import STORAGE_BLOB_DATA_CONTRIBUTOR, assign
from inferstack.components.azure.rules import azure_options
from inferstack.components.azure.serving import OnlineServing, OnlineServingArgs
from inferstack.components.azure.workspace import MlWorkspace, MlWorkspaceArgs
from inferstack.components.errors import SpecError
from inferstack.components.spec.config import check_local_bundle
from inferstack.components.spec.models import DeploymentSpec


def validate(spec: DeploymentSpec) -> None:
    """Refuse what the spec's rules cannot know (the bundle's files); log the quota the
    deployments need (Azure ML holds 20% more than the instances for upgrades)."""
    if spec.target != "azure":
        raise SpecError(
            [f"deployment.target: AzureEndpoint needs target azure, got {spec.target!r}"]
        )
    check_local_bundle(spec)
    previous = azure_options(spec).previous
    if previous and "://" not in previous.artifact:
        # The other colour's bundle is checked as a bundle of its own version.
        model = spec.model.model_copy(
            update={"version": previous.model_version, "artifact": previous.artifact}
        )
        check_local_bundle(spec.model_copy(update={"model": model}))
    instance_type = spec.instance_type()
    if instance_type in BELOW_RECOMMENDED:
        pulumi.log.warn(
            f"{instance_type} is below Standard_DS3_v2, Azure ML's minimum recommended size "
            "for general-purpose online endpoints: fine for dev, not for load"
        )
    pulumi.log.info(
        f"quota: {instance_type} needs {quota_vcpus(instance_type, spec.scaling.max_replicas)} "
        f"vCPUs of its family's quota in {spec.resolved_region} per deployment at "
        f"{spec.scaling.max_replicas} instances (twice that while blue and green both run)"
    )


def model_sources(spec: DeploymentSpec) -> tuple[ModelSource, ...]:
    """The live version, then the previous one while a rollout runs."""
    options = azure_options(spec)
    assert options.image_uri is not None  # the spec's rules require it
    live = ModelSource(spec.model.version, spec.model.artifact, options.image_uri)
    previous = options.previous
    if previous is None:
        return (live,)
    return live, ModelSource(previous.model_version, previous.artifact, previous.image_uri)


class AzureEndpoint(pulumi.ComponentResource):
    """A model deployment on Azure ML: workspace (or an existing one), model and
    environment versions, managed online endpoint with blue/green deployments and
    traffic, autoscale, API Management, diagnostic logs, alerts and a workbook."""

    url: pulumi.Output[str]
    """The API's base URL (POST {url}/score)."""
    api_key: pulumi.Output[str]
    """The API Management subscription key, a secret ("" unless gateway.auth is api_key)."""
    dashboard_url: pulumi.Output[str]
    """The workbook in the Azure portal ("" when off)."""
    scoring_uri: pulumi.Output[str]
    """The endpoint's own scoring URI (behind the gateway)."""

    def __init__(
        self, name: str, spec: DeploymentSpec, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(spec)
        super().__init__("inferstack:azure:AzureEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = context_for(name, spec, pulumi.get_project(), pulumi.get_stack())
        client = azure_native.authorization.get_client_config_output()
        workspace = MlWorkspace(
            f"{name}-ml", MlWorkspaceArgs(ctx, tenant_id=client.tenant_id), opts=child
        )
        upload_ready: tuple[pulumi.Resource, ...] = ()
        if not ctx.options.workspace_id:
            # Only on the storage this stack creates: on a shared workspace the grant
            # would collide with the one already there (RoleAssignmentExists) and a
            # destroy would take it from every other stack; there it is a prerequisite.
            upload_ready = (
                assign(
                    f"{name}-deployer-blob",
                    scope=workspace.storage_account_id,
                    role=STORAGE_BLOB_DATA_CONTRIBUTOR,
                    principal_id=client.object_id,
                    subscription_id=client.subscription_id,
                    service_principal=False,
                    opts=child,
                ),
            )
        assets = ModelAssets(
            f"{name}-assets",
            ModelAssetsArgs(
                ctx,
                subscription_id=client.subscription_id,
                resource_group_name=workspace.resource_group_name,
                workspace_name=workspace.workspace_name,
                blob_endpoint=workspace.blob_endpoint,
                sources=model_sources(spec),
                upload_ready=upload_ready,
            ),
            opts=child,
        )
        # The image's registry (required by the spec's rules: the workspace's own is empty
        # on a first deploy) and the workspace's, which Azure ML says an endpoint
        # identity needs AcrPull on as well ("Authentication and authorization for online
        # endpoints"); the same registry twice is one grant (roles.assignment_name).
        registry_ids = [ctx.options.image_registry_id or workspace.registry_id]
        if ctx.options.image_registry_id:
            registry_ids.append(workspace.registry_id)
        capture = None
        if capture_on(spec):
            capture = CaptureContainer(
                f"{name}-capture",
                CaptureContainerArgs(ctx, storage_account_id=workspace.storage_account_id),
                opts=child,
            )
        serving = OnlineServing(
            f"{name}-serving",
            OnlineServingArgs(
                ctx,
                subscription_id=client.subscription_id,
                resource_group_name=workspace.resource_group_name,
                workspace_name=workspace.workspace_name,
                storage_account_id=workspace.storage_account_id,
                registry_ids=tuple(registry_ids),
                model_ids=assets.model_ids,
                environment_ids=assets.environment_ids,
                capture=capture,
            ),
            opts=child,
        )
        DeploymentAutoscale(
            f"{name}-autoscale",
            DeploymentAutoscaleArgs(
                ctx,
                resource_group_name=workspace.resource_group_name,
                endpoint_id=serving.endpoint_id,
                deployment_ids=serving.deployment_ids,
            ),
            opts=child,
        )
        gateway = ApiGateway(
            f"{name}-gateway",
            ApiGatewayArgs(
                ctx,
                subscription_id=client.subscription_id,
                resource_group_name=workspace.resource_group_name,
                workspace_name=workspace.workspace_name,
                workspace_id=workspace.workspace_id,
                endpoint_name=serving.endpoint_name,
                scoring_uri=serving.scoring_uri,
                key_vault_id=workspace.key_vault_id,
                key_vault_name=workspace.key_vault_name,
                key_vault_uri=workspace.key_vault_uri,
                endpoint_ready=(serving,),
            ),
            opts=child,
        )
        observability = Observability(
            f"{name}-observability",
            ObservabilityArgs(
                ctx,
                resource_group_name=workspace.resource_group_name,
                log_analytics_id=workspace.log_analytics_id,
                endpoint_id=serving.endpoint_id,
                deployment_ids=serving.deployment_ids,
                apim_id=gateway.service_id,
            ),
            opts=child,
        )
        if ctx.options.batch.enabled:
            BatchScoring(
                f"{name}-batch",
                BatchScoringArgs(
                    ctx,
                    subscription_id=client.subscription_id,
                    resource_group_name=workspace.resource_group_name,
                    workspace_name=workspace.workspace_name,
                    storage_account_id=workspace.storage_account_id,
                    blob_endpoint=workspace.blob_endpoint,
                    registry_ids=tuple(registry_ids),
                    model_id=assets.model_ids[spec.model.version],
                    image_uri=model_sources(spec)[0].image_uri,
                    upload_ready=upload_ready,
                ),
                opts=child,
            )
        self.url = gateway.url
        self.api_key = gateway.api_key
        self.dashboard_url = observability.dashboard_url
        self.scoring_uri = serving.scoring_uri
        self.register_outputs(
            {
                "url": self.url,
                "api_key": self.api_key,
                "dashboard_url": self.dashboard_url,
                "scoring_uri": self.scoring_uri,
            }
        )
