"""`ModelAssets`: a model version and the runtime environment, registered in the workspace.

The bundle (a local folder, uploaded with Azure AD into the `models` container, which
the workspace knows as an identity-based datastore; or an azureml:// path as given) is
registered as version `model.version` of a workspace model, from its datastore URI.
The runtime image becomes an environment version whose inference config declares the
runtime's Azure ML liveness, readiness and scoring routes and its port
(runtime/contract.py), which is how Azure ML probes and calls a custom container.

Model and environment versions are immutable in Azure ML, so each is its own resource
named by its version: a new version is a new resource, never an update of the old one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from inferstack.components.azure.context import AzureContext, nested
from inferstack.components.azure.naming import digest
from inferstack.components.azure.upload import BundleUpload
from inferstack.runtime.contract import PORT, Routes

ML = azure_native.machinelearningservices
MODELS_CONTAINER = "models"


def inference_config() -> dict[str, Any]:
    """The custom container contract: the runtime's Azure ML routes on its port."""
    return {
        "liveness_route": {"path": Routes.LIVE, "port": PORT},
        "readiness_route": {"path": Routes.READY, "port": PORT},
        "scoring_route": {"path": Routes.SCORE, "port": PORT},
    }


def datastore_name(endpoint: str) -> str:
    """The bundles' datastore, one per stack (stacks may share a workspace): lower-case
    letters, digits and underscores."""
    return f"inferstack_{digest(endpoint)[:12]}"


def datastore_uri(
    subscription_id: str, resource_group: str, workspace: str, datastore: str, path: str
) -> str:
    """A datastore path in the long form the ARM API takes (azure-ai-ml's LONG_URI_FORMAT)."""
    return (
        f"azureml://subscriptions/{subscription_id}/resourcegroups/{resource_group}/"
        f"workspaces/{workspace}/datastores/{datastore}/paths/{path}"
    )


def _registered_uri(values: list[str]) -> str:
    subscription_id, group, workspace, datastore, _uploaded, path = values
    return datastore_uri(subscription_id, group, workspace, datastore, path)


def environment_version(version: str, image_uri: str, config: dict[str, Any]) -> str:
    """An environment version is immutable (Azure ML refuses new properties for an
    existing one): its name covers everything it holds, the model version, the image and
    the inference config (routes and port)."""
    content = digest(image_uri, json.dumps(config, sort_keys=True))
    return f"{version}-{content}".replace("+", "-")


@dataclass(frozen=True)
class ModelSource:
    """One model version to register and the image that serves it."""

    version: str
    artifact: str
    """A local bundle folder or an azureml:// path."""
    image_uri: str


@dataclass(frozen=True)
class ModelAssetsArgs:
    """Where to register the versions, and which."""

    ctx: AzureContext
    subscription_id: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    workspace_name: pulumi.Input[str]
    blob_endpoint: pulumi.Input[str]
    """The storage account's blob endpoint (https://<account>.blob.core.windows.net/)."""
    sources: tuple[ModelSource, ...]
    """The live version first, then the previous one while a rollout runs."""
    upload_ready: tuple[pulumi.Resource, ...] = ()
    """What uploads wait for (the deployer's blob role assignment)."""


class ModelAssets(pulumi.ComponentResource):
    """Model versions and environment versions, keyed by model version."""

    model_ids: dict[str, pulumi.Output[str]]
    """ARM ID of each registered model version."""
    environment_ids: dict[str, pulumi.Output[str]]
    """ARM ID of each environment version (one per model version)."""

    def __init__(
        self, name: str, args: ModelAssetsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:azure:ModelAssets", name, None, opts)
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self)
        where: dict[str, Any] = {
            "resource_group_name": args.resource_group_name,
            "workspace_name": args.workspace_name,
        }
        model = ML.ModelContainer(
            f"{name}-model",
            name=ctx.names.model,
            properties={"description": f"inferstack model {ctx.spec.model.name}"},
            opts=child,
            **where,
        )
        environment = ML.EnvironmentContainer(
            f"{name}-environment",
            name=ctx.names.environment,
            properties={"description": "inferstack runtime (custom container)"},
            opts=child,
            **where,
        )
        needs_container = any("://" not in s.artifact for s in args.sources)
        container_url: pulumi.Output[str] | None = None
        if needs_container:
            container = azure_native.storage.BlobContainer(
                f"{name}-bundles",
                container_name=MODELS_CONTAINER,
                account_name=pulumi.Output.from_input(args.blob_endpoint).apply(_account_name),
                resource_group_name=args.resource_group_name,
                public_access=azure_native.storage.PublicAccess.NONE,
                opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.upload_ready)),
            )
            container_url = pulumi.Output.concat(args.blob_endpoint, container.name)
            # The container as an identity-based datastore of the workspace: models are
            # registered from datastore URIs (what Azure ML documents, and what its SDK
            # sends after an upload), read with the endpoint identity's own grant.
            datastore = ML.Datastore(
                f"{name}-datastore",
                name=datastore_name(ctx.names.endpoint),
                # A union-typed input: only the Args classes make the SDK send camelCase.
                properties=ML.AzureBlobDatastoreArgs(
                    datastore_type="AzureBlob",
                    account_name=pulumi.Output.from_input(args.blob_endpoint).apply(_account_name),
                    container_name=container.name,
                    endpoint="core.windows.net",
                    protocol="https",
                    credentials=ML.NoneDatastoreCredentialsArgs(credentials_type="None"),
                    description=f"inferstack bundles of {ctx.spec.model.name}",
                ),
                opts=child,
                **where,
            )
        self.model_ids = {}
        self.environment_ids = {}
        for source in args.sources:
            uri: pulumi.Input[str] = source.artifact
            if "://" not in source.artifact and container_url is not None:
                upload = BundleUpload(
                    f"{name}-bundle-{source.version}",
                    Path(source.artifact),
                    container_url,
                    f"{ctx.spec.model.name}/{source.version}",
                    opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.upload_ready)),
                )
                # Through upload.uri, so the version is registered after the upload.
                uri = pulumi.Output.all(
                    args.subscription_id,
                    args.resource_group_name,
                    args.workspace_name,
                    datastore.name,
                    upload.uri,
                    f"{ctx.spec.model.name}/{source.version}/",
                ).apply(_registered_uri)
            version = ML.ModelVersion(
                f"{name}-model-{source.version}",
                name=model.name,
                version=source.version,
                properties={
                    "model_type": "custom_model",
                    "model_uri": uri,
                    "description": f"{ctx.spec.model.name} {source.version}",
                    "tags": {"framework": ctx.spec.model.framework},
                },
                opts=child,
                **where,
            )
            env_version = environment_version(source.version, source.image_uri, inference_config())
            env = ML.EnvironmentVersion(
                f"{name}-environment-{env_version}",
                name=environment.name,
                version=env_version,
                properties=nested(
                    {
                        "image": source.image_uri,
                        "os_type": "Linux",
                        "inference_config": inference_config(),
                        "description": f"runtime image {source.image_uri}",
                    }
                ),
                opts=child,
                **where,
            )
            self.model_ids[source.version] = version.id
            self.environment_ids[source.version] = env.id
        self.register_outputs({})


def _account_name(blob_endpoint: str) -> str:
    return blob_endpoint.split("//", 1)[-1].split(".", 1)[0]
