"""`OnlineServing`: the managed online endpoint, its blue and green deployments and the split.

- The endpoint runs as a user-assigned identity created here, granted AcrPull on the
  image's registry and the workspace's, and Storage Blob Data Reader on the model's
  storage before anything pulls (a system-assigned identity would get those from Azure
  ML itself, and only once the endpoint exists; the user-assigned one has them before
  the first deployment).
  Role assignments reach the data plane with a delay: the deployments wait for them
  (azure/propagation.py) before Azure ML pulls the image and the model.
- Each deployment serves one model version: the live colour `model.version`, the other
  colour `targets.azure.previous` during a rollout. Its instance count is the spec's
  minimum; autoscale changes it later, so Pulumi ignores `sku.capacity` on updates
  instead of resetting it.
- The split is an `EndpointTraffic` resource (azure/traffic.py), set once the
  deployments exist.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from inferstack.components.azure.capture import CaptureContainer, sample_rate
from inferstack.components.azure.context import OTHER, AzureContext, nested
from inferstack.components.azure.naming import ONLINE_DEPLOYMENT, digest, fit
from inferstack.components.azure.propagation import RolePropagation
from inferstack.components.azure.roles import (
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    STORAGE_BLOB_DATA_READER,
    assign,
    identity_pulling_from,
)
from inferstack.components.azure.rules import live_traffic_percent
from inferstack.components.azure.target import Color, ProbeOptions
from inferstack.components.azure.traffic import EndpointTraffic
from inferstack.runtime.contract import PORT, Env

ML = azure_native.machinelearningservices
AZURE_CLIENT_ID = "AZURE_CLIENT_ID"
"""azure-identity's setting naming the user-assigned identity to use (data capture)."""
MODEL_MOUNT_PATH = "/var/azureml-app/inferstack-model"
"""Where Azure ML mounts the registered model in the container. The runtime loads the
bundle baked into the image (`inferstack build`, /opt/ml/model), which is certain to be
laid out as a bundle, while the layout Azure ML gives a mounted folder model (the
folder itself, or a subfolder named after it) is not documented for every case; the
image and the registered version must agree, which INFERSTACK_MODEL_VERSION enforces at
start (the runtime refuses a bundle of another version)."""


def iso_seconds(seconds: float) -> str:
    """An ISO 8601 duration (what the ARM API takes for timeouts and probe periods)."""
    return f"PT{seconds:g}S"


def probe(settings: ProbeOptions) -> azure_native.machinelearningservices.ProbeSettingsArgs:
    """Azure ML ProbeSettings from the spec's probe options."""
    return azure_native.machinelearningservices.ProbeSettingsArgs(
        initial_delay=iso_seconds(settings.initial_delay_s),
        period=iso_seconds(settings.period_s),
        timeout=iso_seconds(settings.timeout_s),
        failure_threshold=settings.failure_threshold,
        success_threshold=1,
    )


def split(ctx: AzureContext) -> tuple[dict[str, int], dict[str, int]]:
    """Live and mirror traffic by deployment name."""
    live = ctx.live_color
    if not ctx.options.previous:
        return {live: 100}, {}
    share = live_traffic_percent(ctx.spec)
    mirror = {live: ctx.options.mirror_percent} if ctx.options.mirror_percent else {}
    return {live: share, OTHER[live]: 100 - share}, mirror


@dataclass(frozen=True)
class OnlineServingArgs:
    """The workspace to deploy into and the assets the deployments run."""

    ctx: AzureContext
    subscription_id: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    workspace_name: pulumi.Input[str]
    storage_account_id: pulumi.Input[str]
    registry_ids: tuple[pulumi.Input[str], ...]
    """Registries the endpoint identity pulls from (the image's, the workspace's)."""
    model_ids: dict[str, pulumi.Output[str]]
    environment_ids: dict[str, pulumi.Output[str]]
    capture: CaptureContainer | None = None
    """Where the runtime writes captured requests (azure/capture.py); None: no capture."""


class OnlineServing(pulumi.ComponentResource):
    """The endpoint, one deployment per colour, and the traffic split."""

    endpoint_id: pulumi.Output[str]
    endpoint_name: pulumi.Output[str]
    scoring_uri: pulumi.Output[str]
    deployment_ids: dict[str, pulumi.Output[str]]
    """ARM ID of each deployment by colour."""
    principal_id: pulumi.Output[str]
    """The endpoint identity's principal."""
    client_id: pulumi.Output[str]
    """The endpoint identity's client id (what azure-identity asks a token for)."""

    def __init__(
        self, name: str, args: OnlineServingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:azure:OnlineServing", name, None, opts)
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self)
        where: dict[str, Any] = {
            "resource_group_name": args.resource_group_name,
            "workspace_name": args.workspace_name,
        }
        identity, grants = identity_pulling_from(
            name,
            resource_group_name=args.resource_group_name,
            location=ctx.location,
            tags=ctx.tags,
            registry_ids=args.registry_ids,
            subscription_id=args.subscription_id,
            opts=child,
        )
        self.principal_id = identity.principal_id
        self.client_id = identity.client_id
        grants += [
            assign(
                f"{name}-model-reader",
                scope=args.storage_account_id,
                role=STORAGE_BLOB_DATA_READER,
                principal_id=identity.principal_id,
                subscription_id=args.subscription_id,
                service_principal=True,
                opts=child,
            ),
        ]
        if args.capture is not None:
            grants.append(
                assign(
                    f"{name}-capture-writer",
                    scope=args.capture.scope,
                    role=STORAGE_BLOB_DATA_CONTRIBUTOR,
                    principal_id=identity.principal_id,
                    subscription_id=args.subscription_id,
                    service_principal=True,
                    opts=child,
                )
            )
        propagated = RolePropagation(f"{name}-grants-propagation", grants, opts=child)
        endpoint_inputs: dict[str, Any] = {
            "auth_mode": "Key" if ctx.options.endpoint_auth == "key" else "AADToken",
            "public_network_access": "Disabled" if ctx.options.private else "Enabled",
            "description": f"inferstack {ctx.spec.model.name} ({ctx.spec.environment})",
        }
        endpoint = ML.OnlineEndpoint(
            f"{name}-endpoint",
            endpoint_name=ctx.names.endpoint,
            location=ctx.location,
            identity=nested(
                {
                    "type": "UserAssigned",
                    "user_assigned_identities": [identity.id],
                }
            ),
            # Traffic is set by EndpointTraffic once the deployments exist.
            properties=nested(endpoint_inputs),
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=grants),
            **where,
        )
        self.endpoint_id = endpoint.id
        self.endpoint_name = endpoint.name
        self.scoring_uri = endpoint.properties.apply(lambda p: p.scoring_uri or "")
        self.deployment_ids = {}
        deployments = []
        versions = {ctx.live_color: ctx.spec.model.version}
        if ctx.options.previous:
            versions[OTHER[ctx.live_color]] = ctx.options.previous.model_version
        for color, version in versions.items():
            deployment = self._deployment(name, ctx, args, endpoint, color, version, propagated)
            self.deployment_ids[color] = deployment.id
            deployments.append(deployment)
        traffic, mirror = split(ctx)
        EndpointTraffic(
            f"{name}-traffic",
            endpoint_id=endpoint.id,
            traffic=traffic,
            mirror=mirror,
            revision=digest(
                json.dumps(endpoint_inputs, sort_keys=True), json.dumps(ctx.tags, sort_keys=True)
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=deployments),
        )
        self.register_outputs({"endpoint_id": self.endpoint_id, "scoring_uri": self.scoring_uri})

    def _deployment(
        self,
        name: str,
        ctx: AzureContext,
        args: OnlineServingArgs,
        endpoint: ML.OnlineEndpoint,
        color: Color,
        version: str,
        propagated: RolePropagation,
    ) -> ML.OnlineDeployment:
        options = ctx.options
        spec = ctx.spec
        instance_type = spec.instance_type()
        if color != ctx.live_color and options.previous and options.previous.instance_type:
            instance_type = options.previous.instance_type
        env: dict[str, pulumi.Input[str]] = {
            Env.MODEL_NAME: spec.model.name,
            Env.MODEL_VERSION: version,
            Env.ENVIRONMENT: spec.environment,
            Env.PORT: str(PORT),
            Env.ENDPOINT_NAME: ctx.names.endpoint,
            Env.VARIANT: color,
            Env.REQUEST_TIMEOUT_S: f"{options.request_timeout_ms / 1000:g}",
            # EMF lines are JSON on stdout: Log Analytics keeps them in
            # AmlOnlineEndpointConsoleLog, where the drift alert reads DriftScore.
            Env.CLOUDWATCH_EMF: "true",
        }
        if args.capture is not None:
            env[Env.CAPTURE_URI] = args.capture.uri
            env[Env.CAPTURE_SAMPLE_RATE] = sample_rate(spec)
            # The sink's DefaultAzureCredential takes a user-assigned identity's client
            # id from AZURE_CLIENT_ID (without it, it asks for a system-assigned one,
            # which the endpoint does not have).
            env[AZURE_CLIENT_ID] = self.client_id
        return ML.OnlineDeployment(
            f"{name}-{color}",
            deployment_name=fit(ONLINE_DEPLOYMENT, color),
            endpoint_name=endpoint.name,
            location=ctx.location,
            sku=nested({"name": "Default", "capacity": spec.scaling.min_replicas}),
            # A union-typed input (managed or Kubernetes): only the Args class makes the
            # SDK send camelCase keys; a dict would reach the provider in snake_case.
            properties=ML.ManagedOnlineDeploymentArgs(
                endpoint_compute_type="Managed",
                instance_type=instance_type,
                model=args.model_ids[version],
                model_mount_path=MODEL_MOUNT_PATH,
                environment_id=args.environment_ids[version],
                environment_variables=env,
                app_insights_enabled=True,
                egress_public_network_access="Disabled" if options.private else "Enabled",
                request_settings=ML.OnlineRequestSettingsArgs(
                    request_timeout=iso_seconds(options.request_timeout_ms / 1000),
                    max_concurrent_requests_per_instance=(
                        options.max_concurrent_requests_per_instance
                    ),
                ),
                liveness_probe=probe(options.liveness_probe),
                readiness_probe=probe(options.readiness_probe),
                scale_settings=ML.DefaultScaleSettingsArgs(scale_type="Default"),
            ),
            tags={**ctx.tags, "inferstack-color": color, "inferstack-version": version},
            opts=pulumi.ResourceOptions(
                parent=self,
                # The identity's grants, applied in the data plane (azure/propagation.py).
                depends_on=[propagated],
                # Autoscale owns the instance count after the first deploy.
                ignore_changes=["sku.capacity"],
            ),
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
        )
