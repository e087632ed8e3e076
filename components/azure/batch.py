"""`BatchScoring`: a batch endpoint on a low-priority AmlCompute cluster that scales to zero.

Where spot capacity fits Azure ML: managed online endpoints have none, AmlCompute
clusters do (`vmPriority: LowPriority`, preemptible, from the region's low-priority vCPU
quota). The deployment runs the stack's registered model version with the same runtime
image as the online deployment, through `runtime/azureml_batch.py` (a two-line
`score.py` uploaded as the code asset imports it from the image), so a batch job scores
exactly as `inferstack score` does.

- Identity: a user-assigned identity on the cluster, granted AcrPull on the image's
  registry and the workspace's, and Storage Blob Data Contributor on the workspace's
  storage (it reads the model and the code, writes the job's outputs). The deployment
  waits for the grants to propagate (azure/propagation.py).
- The environment version carries the image without the online inference config (a
  batch driver calls the scoring script, not HTTP routes).
- Update semantics: Azure ML refuses to change a cluster's VM size or priority in place,
  so those replace the cluster (deleted first: its name is fixed); node counts and the
  idle time update in place. A deployment's code, environment and model update in place
  (jobs already running keep what they started with).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from inferstack.components.azure.batch_naming import BatchNames, batch_names
from inferstack.components.azure.batch_options import AzureBatchOptions
from inferstack.components.azure.batch_rules import (
    batch_instance_type,
    batch_options,
    low_priority_vcpus,
)
from inferstack.components.azure.context import AzureContext, nested
from inferstack.components.azure.model import environment_version
from inferstack.components.azure.naming import digest
from inferstack.components.azure.propagation import RolePropagation
from inferstack.components.azure.roles import (
    STORAGE_BLOB_DATA_CONTRIBUTOR,
    assign,
    identity_pulling_from,
)
from inferstack.components.azure.serving import iso_seconds
from inferstack.components.azure.upload import BundleUpload, bundle_files
from inferstack.runtime.contract import Env

ML = azure_native.machinelearningservices
SCORING_SCRIPT = "score.py"
SCRIPT_SOURCE = (
    '"""Azure ML batch scoring script: the runtime in the image does the work."""\n'
    "from inferstack.runtime.azureml_batch import init, run  # noqa: F401\n"
)
CODE_CONTAINER = "inferstack-batch-code"
"""The blob container the scoring script's code asset lives in."""
REPLACING = ["properties.properties.vmSize", "properties.properties.vmPriority"]
"""Cluster inputs Azure ML cannot change in place."""


@dataclass(frozen=True)
class BatchScoringArgs:
    """The workspace, the registered model version and the image to run."""

    ctx: AzureContext
    subscription_id: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    workspace_name: pulumi.Input[str]
    storage_account_id: pulumi.Input[str]
    blob_endpoint: pulumi.Input[str]
    """The workspace storage's blob endpoint (the code asset is uploaded there)."""
    registry_ids: tuple[pulumi.Input[str], ...]
    """Registries the cluster pulls the image from."""
    model_id: pulumi.Input[str]
    """The live model version's ARM ID (the online deployment's)."""
    image_uri: str
    upload_ready: tuple[pulumi.Resource, ...] = ()
    """What the code upload waits for (the deployer's blob role assignment)."""


def code_folder() -> Path:
    """A folder holding only the scoring script, at a path fixed by its content (the
    upload reads it during the deploy; a package folder would also hold compiled files)."""
    folder = Path(tempfile.gettempdir()) / f"inferstack-batch-code-{digest(SCRIPT_SOURCE)}"
    folder.mkdir(exist_ok=True)
    script = folder / SCORING_SCRIPT
    if not script.is_file() or script.read_text() != SCRIPT_SOURCE:
        script.write_text(SCRIPT_SOURCE)
    return folder


def cluster_properties(options: AzureBatchOptions, vm_size: str) -> ML.AmlComputeArgs:
    """The AmlCompute cluster: `options.priority` nodes of `vm_size`, 0 to max_nodes."""
    return ML.AmlComputeArgs(
        compute_type="AmlCompute",
        description="inferstack batch scoring",
        disable_local_auth=True,
        properties=ML.AmlComputePropertiesArgs(
            vm_size=vm_size,
            vm_priority=options.priority,
            os_type="Linux",
            scale_settings=ML.ScaleSettingsArgs(
                min_node_count=0,
                max_node_count=options.max_nodes,
                node_idle_time_before_scale_down=iso_seconds(options.idle_before_scale_down_s),
            ),
            remote_login_port_public_access="Disabled",
        ),
    )


class BatchScoring(pulumi.ComponentResource):
    """The batch endpoint, its deployment, the cluster, its identity and the code asset."""

    endpoint_name: pulumi.Output[str]
    endpoint_id: pulumi.Output[str]
    cluster_id: pulumi.Output[str]
    names: BatchNames

    def __init__(
        self, name: str, args: BatchScoringArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:azure:BatchScoring", name, None, opts)
        ctx = args.ctx
        options = batch_options(ctx.spec)
        self.names = names = batch_names(
            ctx.spec.model.name, pulumi.get_project(), pulumi.get_stack()
        )
        quota = "low-priority vCPUs" if options.priority == "LowPriority" else "its family's vCPUs"
        pulumi.log.info(
            f"quota: the batch cluster takes up to {low_priority_vcpus(ctx.spec)} of the "
            f"region's {quota} in {ctx.location} at {options.max_nodes} nodes; a job waits "
            "(queued) while the quota or low-priority capacity is short"
        )
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
        grants.append(
            assign(
                f"{name}-storage",
                scope=args.storage_account_id,
                role=STORAGE_BLOB_DATA_CONTRIBUTOR,
                principal_id=identity.principal_id,
                subscription_id=args.subscription_id,
                service_principal=True,
                opts=child,
            )
        )
        propagated = RolePropagation(f"{name}-grants-propagation", grants, opts=child)
        cluster = ML.Compute(
            f"{name}-cluster",
            compute_name=names.compute,
            location=ctx.location,
            identity=nested({"type": "UserAssigned", "user_assigned_identities": [identity.id]}),
            properties=cluster_properties(options, batch_instance_type(ctx.spec)),
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=grants,
                replace_on_changes=REPLACING,
                delete_before_replace=True,
            ),
            **where,
        )
        environment_id = self._environment(name, ctx, args, where)
        code_id = self._code(name, ctx, args, where)
        endpoint = ML.BatchEndpoint(
            f"{name}-endpoint",
            endpoint_name=names.endpoint,
            location=ctx.location,
            # Batch endpoints take Microsoft Entra tokens only.
            properties=nested(
                {
                    "auth_mode": "AADToken",
                    "description": f"inferstack batch scoring of {ctx.spec.model.name}",
                }
            ),
            tags=ctx.tags,
            opts=child,
            **where,
        )
        spec = ctx.spec
        ML.BatchDeployment(
            f"{name}-deployment",
            deployment_name=names.deployment,
            endpoint_name=endpoint.name,
            location=ctx.location,
            properties=ML.BatchDeploymentPropertiesArgs(
                description=f"{spec.model.name} {spec.model.version}",
                compute=cluster.id,
                model=ML.IdAssetReferenceArgs(reference_type="Id", asset_id=args.model_id),
                environment_id=environment_id,
                code_configuration=ML.CodeConfigurationArgs(
                    code_id=code_id, scoring_script=SCORING_SCRIPT
                ),
                environment_variables={
                    Env.MODEL_NAME: spec.model.name,
                    Env.MODEL_VERSION: spec.model.version,
                    Env.ENVIRONMENT: spec.environment,
                },
                resources=ML.DeploymentResourceConfigurationArgs(
                    instance_count=options.instance_count
                ),
                mini_batch_size=options.mini_batch_size,
                max_concurrency_per_instance=options.max_concurrency_per_instance,
                retry_settings=ML.BatchRetrySettingsArgs(
                    max_retries=options.max_retries,
                    timeout=iso_seconds(options.mini_batch_timeout_s),
                ),
                error_threshold=options.error_threshold,
                logging_level=options.logging_level,
                # The script writes each file's results itself (runtime/azureml_batch.py).
                output_action="SummaryOnly",
            ),
            tags={**ctx.tags, "inferstack-version": spec.model.version},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[propagated]),
            **where,
        )
        self.endpoint_name = endpoint.name
        self.endpoint_id = endpoint.id
        self.cluster_id = cluster.id
        self.register_outputs({"endpoint_id": self.endpoint_id, "cluster_id": self.cluster_id})

    def _environment(
        self, name: str, ctx: AzureContext, args: BatchScoringArgs, where: dict[str, Any]
    ) -> pulumi.Output[str]:
        container = ML.EnvironmentContainer(
            f"{name}-environment",
            name=f"{ctx.names.environment}-batch",
            properties={"description": "inferstack runtime for batch deployments"},
            opts=pulumi.ResourceOptions(parent=self),
            **where,
        )
        version = ML.EnvironmentVersion(
            f"{name}-environment-version",
            name=container.name,
            version=environment_version(ctx.spec.model.version, args.image_uri, {}),
            properties=nested(
                {
                    "image": args.image_uri,
                    "os_type": "Linux",
                    "description": f"runtime image {args.image_uri}",
                }
            ),
            opts=pulumi.ResourceOptions(parent=self),
            **where,
        )
        return version.id

    def _code(
        self, name: str, ctx: AzureContext, args: BatchScoringArgs, where: dict[str, Any]
    ) -> pulumi.Output[str]:
        folder = code_folder()
        content = digest(json.dumps(bundle_files(folder), sort_keys=True))
        blobs = azure_native.storage.BlobContainer(
            f"{name}-code-blobs",
            container_name=CODE_CONTAINER,
            account_name=pulumi.Output.from_input(args.blob_endpoint).apply(
                lambda e: e.split("//", 1)[-1].split(".", 1)[0]
            ),
            resource_group_name=args.resource_group_name,
            public_access=azure_native.storage.PublicAccess.NONE,
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.upload_ready)),
        )
        upload = BundleUpload(
            f"{name}-code-upload",
            folder,
            pulumi.Output.concat(args.blob_endpoint, blobs.name),
            f"{self.names.code}/{content}",
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.upload_ready)),
        )
        container = ML.CodeContainer(
            f"{name}-code",
            name=self.names.code,
            properties={"description": "inferstack batch scoring script"},
            opts=pulumi.ResourceOptions(parent=self),
            **where,
        )
        version = ML.CodeVersion(
            f"{name}-code-version",
            name=container.name,
            version=content,
            properties={"code_uri": upload.uri, "description": "score.py"},
            opts=pulumi.ResourceOptions(parent=self),
            **where,
        )
        return version.id
