"""Azure built-in roles the target assigns, and one way to assign them.

IDs are Azure's built-in role definition IDs, the same in every tenant
("Azure built-in roles", https://learn.microsoft.com/azure/role-based-access-control/built-in-roles).
"""

from __future__ import annotations

import uuid

import pulumi
import pulumi_azure_native as azure_native

Identity = azure_native.managedidentity.UserAssignedIdentity

ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
"""AcrPull: the endpoint's identity pulls the runtime image ("Access Azure resources from
an online endpoint with a managed identity", user-assigned identity section:
https://learn.microsoft.com/azure/machine-learning/how-to-access-resources-from-endpoints-managed-identities)."""
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
"""Storage Blob Data Reader: the endpoint's identity reads the registered model (same page)."""
STORAGE_BLOB_DATA_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
"""Storage Blob Data Contributor: the deploying identity uploads bundles with Azure AD
(shared-key access is off; "Authorize access to blobs using Microsoft Entra ID")."""
KEY_VAULT_SECRETS_USER = "4633458b-17de-408a-b874-0445c86b69e6"
"""Key Vault Secrets User: API Management reads the endpoint key named value from the
RBAC key vault ("Use named values in Azure API Management policies", key vault
secrets: https://learn.microsoft.com/azure/api-management/api-management-howto-properties)."""
SCORE_ACTION = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/score/action"
"""What an Azure AD caller of an aad_token endpoint needs, at the endpoint's scope ("Authentication
and authorization for online endpoints", data plane operations); API Management's identity
gets a custom role with this action only, rather than a workspace-wide built-in role that
can also change endpoints and deployments."""


def role_id(subscription_id: pulumi.Input[str], role: str) -> pulumi.Output[str]:
    """The full role definition ID of built-in `role` in the subscription."""
    return pulumi.Output.concat(
        "/subscriptions/",
        subscription_id,
        "/providers/Microsoft.Authorization/roleDefinitions/",
        role,
    )


def assignment_name(scope: str, principal_id: str, role: str) -> str:
    """A GUID that is the same for the same scope (any case), principal and role."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope.lower()}|{principal_id}|{role}"))


def assign(
    name: str,
    *,
    scope: pulumi.Input[str],
    role: str,
    role_definition_id: pulumi.Input[str] | None = None,
    principal_id: pulumi.Input[str],
    subscription_id: pulumi.Input[str],
    service_principal: bool,
    opts: pulumi.ResourceOptions,
) -> azure_native.authorization.RoleAssignment:
    """Assign `role` at `scope`. For a managed identity created in the same deployment,
    principalType ServicePrincipal lets ARM skip the directory lookup that fails while the
    new identity replicates ("Assign Azure roles using ARM templates", new principal).

    The assignment's name is derived from (scope, principal, role), the triple ARM allows
    once: two grants of the same triple are the same PUT instead of a
    RoleAssignmentExists conflict. A custom role passes its `role_definition_id` (then
    `role` is its stable name, part of the assignment's)."""
    return azure_native.authorization.RoleAssignment(
        name,
        role_assignment_name=pulumi.Output.all(scope, principal_id).apply(
            lambda v: assignment_name(v[0], v[1], role)
        ),
        scope=scope,
        role_definition_id=role_definition_id or role_id(subscription_id, role),
        principal_id=principal_id,
        principal_type="ServicePrincipal" if service_principal else None,
        opts=opts,
    )


def identity_pulling_from(
    name: str,
    *,
    resource_group_name: pulumi.Input[str],
    location: str,
    tags: dict[str, str],
    registry_ids: tuple[pulumi.Input[str], ...],
    subscription_id: pulumi.Input[str],
    opts: pulumi.ResourceOptions,
) -> tuple[
    azure_native.managedidentity.UserAssignedIdentity,
    list[azure_native.authorization.RoleAssignment],
]:
    """A user-assigned identity `<name>-identity` and its AcrPull grants on `registry_ids`
    (`<name>-acr-pull`, then `<name>-workspace-acr-pull`): what a deployment or cluster that
    runs the runtime image needs before anything else."""
    identity = azure_native.managedidentity.UserAssignedIdentity(
        f"{name}-identity",
        resource_group_name=resource_group_name,
        location=location,
        tags=tags,
        opts=opts,
    )
    grants = [
        assign(
            f"{name}-acr-pull" if i == 0 else f"{name}-workspace-acr-pull",
            scope=registry_id,
            role=ACR_PULL,
            principal_id=identity.principal_id,
            subscription_id=subscription_id,
            service_principal=True,
            opts=opts,
        )
        for i, registry_id in enumerate(registry_ids)
    ]
    return identity, grants
