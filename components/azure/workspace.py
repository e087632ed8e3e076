"""`MlWorkspace`: the Azure ML workspace and what it stands on, or an existing one by id.

New: a resource group, a storage account (HTTPS and TLS 1.2 only, no public blobs, no
shared-key access: the workspace's datastores use its identity), a key vault (RBAC,
soft delete, purge protection), Log Analytics with Application Insights on it, a
container registry (admin user off) and the workspace with a system-assigned identity.
Azure ML grants that identity what it needs on these resources itself when it creates
the workspace ("Set up authentication between Azure Machine Learning and other
services"): assigning the same roles again here would fail with RoleAssignmentExists.

Existing (`targets.azure.workspace_id`): the workspace's own storage, registry and
Application Insights are read; this stack adds Log Analytics and a key vault for the
gateway's secret in the workspace's resource group.

The key vault's and the workspace's names end with random characters kept in the
stack's state: purge protection keeps a deleted vault's name reserved for its retention
period and a deleted workspace's for 14 days (soft delete), so `pulumi destroy` then
`pulumi up` gets new ones instead of a name conflict.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure_native
import pulumi_random as random

from inferstack.components.azure.context import KEY_VAULT_SUFFIX, AzureContext, nested
from inferstack.components.errors import DeployError

ML = azure_native.machinelearningservices


@dataclass(frozen=True)
class MlWorkspaceArgs:
    """The deployment's context and the deploying identity's tenant."""

    ctx: AzureContext
    """Spec, names, location, tags."""
    tenant_id: pulumi.Input[str]
    """The Azure AD tenant the key vault trusts."""


def parse_workspace_id(workspace_id: str) -> tuple[str, str, str]:
    """(subscription, resource group, workspace name) of a workspace resource ID."""
    parts = workspace_id.strip("/").split("/")
    return parts[1], parts[3], parts[7]


def name_suffix(name: str, opts: pulumi.ResourceOptions) -> random.RandomString:
    """Random characters, kept in the stack's state, that end a soft-deleted resource's
    name (`{name}-suffix`)."""
    return random.RandomString(
        f"{name}-suffix",
        length=KEY_VAULT_SUFFIX,
        special=False,
        upper=False,
        numeric=True,
        opts=opts,
    )


def _require_registry(registry_id: str | None, workspace_id: str) -> str:
    if not registry_id:
        raise DeployError(
            f"targets.azure.workspace_id: the workspace {workspace_id} has no container "
            "registry; Azure ML's online endpoints need AcrPull on the workspace's registry: "
            "attach one (az ml workspace update --container-registry <id>)"
        )
    return registry_id


class MlWorkspace(pulumi.ComponentResource):
    """The workspace the endpoint lives in and the resources the other parts use."""

    resource_group_name: pulumi.Output[str]
    workspace_name: pulumi.Output[str]
    workspace_id: pulumi.Output[str]
    storage_account_id: pulumi.Output[str]
    blob_endpoint: pulumi.Output[str]
    registry_id: pulumi.Output[str]
    key_vault_id: pulumi.Output[str]
    key_vault_uri: pulumi.Output[str]
    key_vault_name: pulumi.Output[str]
    log_analytics_id: pulumi.Output[str]
    app_insights_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: MlWorkspaceArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:azure:MlWorkspace", name, None, opts)
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self)
        existing = ctx.options.workspace_id
        if existing:
            _, group, workspace = parse_workspace_id(existing)
            found = ML.get_workspace_output(resource_group_name=group, workspace_name=workspace)
            self.resource_group_name = pulumi.Output.from_input(group)
            self.workspace_name = pulumi.Output.from_input(workspace)
            self.workspace_id = pulumi.Output.from_input(existing)
            self.storage_account_id = found.storage_account.apply(lambda v: v or "")
            self.registry_id = found.container_registry.apply(
                lambda v: _require_registry(v, existing)
            )
            self.app_insights_id = found.application_insights.apply(lambda v: v or "")
            account = self.storage_account_id.apply(lambda v: v.rsplit("/", 1)[-1])
            self.blob_endpoint = pulumi.Output.concat(
                "https://", account, ".blob.core.windows.net/"
            )
        else:
            self._create(name, ctx, child)
        self._vault(name, ctx, args.tenant_id, child)
        self.log_analytics_id = self._log_analytics(name, ctx, child)
        if not existing:
            self._workspace(name, ctx, child)
        self.register_outputs(
            {"workspace_id": self.workspace_id, "key_vault_uri": self.key_vault_uri}
        )

    def _create(self, name: str, ctx: AzureContext, child: pulumi.ResourceOptions) -> None:
        names = ctx.names
        group = azure_native.resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=names.resource_group,
            location=ctx.location,
            tags=ctx.tags,
            opts=child,
        )
        self.resource_group_name = group.name
        storage = azure_native.storage.StorageAccount(
            f"{name}-storage",
            account_name=names.storage_account,
            resource_group_name=group.name,
            location=ctx.location,
            kind="StorageV2",
            sku={"name": "Standard_ZRS" if ctx.spec.environment == "prod" else "Standard_LRS"},
            enable_https_traffic_only=True,
            minimum_tls_version="TLS1_2",
            allow_blob_public_access=False,
            allow_shared_key_access=False,
            default_to_o_auth_authentication=True,
            allow_cross_tenant_replication=False,
            encryption={
                "key_source": "Microsoft.Storage",
                "services": {
                    "blob": {"enabled": True, "key_type": "Account"},
                    "file": {"enabled": True, "key_type": "Account"},
                },
            },
            tags=ctx.tags,
            opts=child,
        )
        self.storage_account_id = storage.id
        self.blob_endpoint = storage.primary_endpoints.apply(lambda e: e.blob)
        registry = azure_native.containerregistry.Registry(
            f"{name}-registry",
            registry_name=names.registry,
            resource_group_name=group.name,
            location=ctx.location,
            sku={"name": "Premium" if ctx.spec.environment == "prod" else "Basic"},
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            tags=ctx.tags,
            opts=child,
        )
        self.registry_id = registry.id

    def _vault(
        self,
        name: str,
        ctx: AzureContext,
        tenant_id: pulumi.Input[str],
        child: pulumi.ResourceOptions,
    ) -> None:
        suffix = name_suffix(f"{name}-vault", child)
        vault = azure_native.keyvault.Vault(
            f"{name}-vault",
            vault_name=pulumi.Output.concat(ctx.names.key_vault_prefix, "-", suffix.result),
            resource_group_name=self.resource_group_name,
            location=ctx.location,
            properties=nested(
                {
                    "tenant_id": tenant_id,
                    "sku": {"family": "A", "name": "standard"},
                    "enable_rbac_authorization": True,
                    "enable_soft_delete": True,
                    "enable_purge_protection": True,
                    "soft_delete_retention_in_days": ctx.options.key_vault_retention_days,
                    "public_network_access": "Enabled",
                }
            ),
            tags=ctx.tags,
            # Key Vault takes the retention at creation only; a later change would be
            # refused on the live vault, so it is not sent.
            opts=pulumi.ResourceOptions(
                parent=self, ignore_changes=["properties.softDeleteRetentionInDays"]
            ),
        )
        self.key_vault_id = vault.id
        self.key_vault_name = vault.name
        self.key_vault_uri = vault.properties.apply(lambda p: p.vault_uri or "")

    def _log_analytics(
        self, name: str, ctx: AzureContext, child: pulumi.ResourceOptions
    ) -> pulumi.Output[str]:
        workspace = azure_native.operationalinsights.Workspace(
            f"{name}-logs",
            workspace_name=ctx.names.log_analytics,
            resource_group_name=self.resource_group_name,
            location=ctx.location,
            sku={"name": "PerGB2018"},
            retention_in_days=ctx.spec.observability.log_retention_days,
            tags=ctx.tags,
            opts=child,
        )
        return workspace.id

    def _workspace(self, name: str, ctx: AzureContext, child: pulumi.ResourceOptions) -> None:
        insights = azure_native.applicationinsights.Component(
            f"{name}-insights",
            resource_name_=ctx.names.app_insights,
            resource_group_name=self.resource_group_name,
            location=ctx.location,
            kind="web",
            application_type="web",
            ingestion_mode="LogAnalytics",
            workspace_resource_id=self.log_analytics_id,
            tags=ctx.tags,
            opts=child,
        )
        self.app_insights_id = insights.id
        workspace = ML.Workspace(
            f"{name}-workspace",
            workspace_name=pulumi.Output.concat(
                ctx.names.workspace_prefix, "-", name_suffix(f"{name}-workspace", child).result
            ),
            resource_group_name=self.resource_group_name,
            location=ctx.location,
            identity=nested({"type": "SystemAssigned"}),
            sku=nested({"name": "Basic", "tier": "Basic"}),
            storage_account=self.storage_account_id,
            key_vault=self.key_vault_id,
            application_insights=insights.id,
            container_registry=self.registry_id,
            system_datastores_auth_mode="identity",
            public_network_access="Disabled" if ctx.options.private else "Enabled",
            v1_legacy_mode=False,
            tags=ctx.tags,
            opts=child,
        )
        self.workspace_name = workspace.name
        self.workspace_id = workspace.id
