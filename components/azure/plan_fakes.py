"""Plausible computed outputs of azure-native resources for the offline plan (`PlanMocks`).

Real values come from Azure; these only need the right shape: ARM resource IDs built
from the resource's own names, a scoring URI on the endpoint's regional host, the
gateway URL of API Management, principal IDs of managed identities.
"""

from __future__ import annotations

import uuid
from typing import Any

import pulumi
from pulumi.runtime import rpc

from inferstack.components.plan.mocks import CallFake, ResourceFake, digest

Args = pulumi.runtime.MockResourceArgs
FAKE_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
FAKE_TENANT = "11111111-1111-1111-1111-111111111111"
FAKE_DEPLOYER = "22222222-2222-2222-2222-222222222222"
_ML = "Microsoft.MachineLearningServices/workspaces"


def fake_uuid(*parts: object) -> str:
    """A stable UUID from `parts`."""
    return str(uuid.UUID(digest(*parts)[:32]))


def _group(args: Args) -> str:
    return str(args.inputs.get("resourceGroupName", "rg"))


def _rid(args: Args, provider: str, name: str) -> str:
    group = f"/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/{_group(args)}"
    return f"{group}/providers/{provider}/{name}"


def _named(provider: str, field: str):  # type: ignore[no-untyped-def]
    def fake(args: Args) -> dict[str, Any]:
        name = str(args.inputs.get(field) or f"{args.name}-{digest(args.typ, args.name)[:7]}")
        return {"id": _rid(args, provider, name), "name": name}

    return fake


def _resource_group(args: Args) -> dict[str, Any]:
    name = str(args.inputs.get("resourceGroupName", args.name))
    return {"id": f"/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/{name}", "name": name}


def _storage(args: Args) -> dict[str, Any]:
    name = str(args.inputs["accountName"])
    return {
        "id": _rid(args, "Microsoft.Storage/storageAccounts", name),
        "name": name,
        "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/"},
    }


def _vault(args: Args) -> dict[str, Any]:
    name = str(args.inputs["vaultName"])
    properties = {
        **args.inputs.get("properties", {}),
        "vaultUri": f"https://{name}.vault.azure.net/",
    }
    return {
        "id": _rid(args, "Microsoft.KeyVault/vaults", name),
        "name": name,
        "properties": properties,
    }


def _unsecret(value: Any) -> Any:
    """A secret input as the mocks see it (the engine's secret wrapper), unwrapped."""
    if isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig:
        return value.get("value", {})
    return value


def _secret(args: Args) -> dict[str, Any]:
    vault, name = args.inputs["vaultName"], args.inputs["secretName"]
    uri = f"https://{vault}.vault.azure.net/secrets/{name}"
    properties = {
        **_unsecret(args.inputs.get("properties", {})),
        "secretUri": uri,
        "secretUriWithVersion": f"{uri}/0",
    }
    return {
        "id": _rid(args, f"Microsoft.KeyVault/vaults/{vault}/secrets", name),
        "name": name,
        "properties": properties,
    }


def _identity(args: Args) -> dict[str, Any]:
    name = f"{args.name}-{digest(args.typ, args.name)[:7]}"
    return {
        "id": _rid(args, "Microsoft.ManagedIdentity/userAssignedIdentities", name),
        "name": name,
        "principalId": fake_uuid("principal", args.name),
        "clientId": fake_uuid("client", args.name),
    }


def _ml_child(kind: str, field: str):  # type: ignore[no-untyped-def]
    def fake(args: Args) -> dict[str, Any]:
        workspace = args.inputs.get("workspaceName", "ws")
        name = str(args.inputs.get(field, args.name))
        return {"id": _rid(args, f"{_ML}/{workspace}/{kind}", name), "name": name}

    return fake


def _version(kind: str):  # type: ignore[no-untyped-def]
    def fake(args: Args) -> dict[str, Any]:
        workspace = args.inputs.get("workspaceName", "ws")
        name, version = args.inputs["name"], args.inputs["version"]
        return {
            "id": _rid(args, f"{_ML}/{workspace}/{kind}/{name}/versions", str(version)),
            "name": version,
        }

    return fake


def _endpoint(args: Args) -> dict[str, Any]:
    workspace, name = args.inputs["workspaceName"], args.inputs["endpointName"]
    location = args.inputs.get("location", "eastus")
    host = f"https://{name}.{location}.inference.ml.azure.com"
    properties = {**args.inputs.get("properties", {}), "scoringUri": f"{host}/score"}
    identity = dict(args.inputs.get("identity") or {})
    # Inputs list user-assigned identity IDs; Azure answers a map of them.
    identity["userAssignedIdentities"] = {
        rid: {"principalId": fake_uuid("uai", rid), "clientId": fake_uuid("uaic", rid)}
        for rid in identity.get("userAssignedIdentities") or []
    }
    return {
        "id": _rid(args, f"{_ML}/{workspace}/onlineEndpoints", name),
        "name": name,
        "properties": properties,
        "identity": identity,
    }


def _deployment(args: Args) -> dict[str, Any]:
    workspace, endpoint = args.inputs["workspaceName"], args.inputs["endpointName"]
    name = args.inputs["deploymentName"]
    return {
        "id": _rid(args, f"{_ML}/{workspace}/onlineEndpoints/{endpoint}/deployments", name),
        "name": name,
    }


def _apim(args: Args) -> dict[str, Any]:
    name = str(args.inputs["serviceName"])
    return {
        "id": _rid(args, "Microsoft.ApiManagement/service", name),
        "name": name,
        "gatewayUrl": f"https://{name}.azure-api.net",
        "identity": {"type": "SystemAssigned", "principalId": fake_uuid("apim", name)},
    }


def _apim_child(kind: str, field: str):  # type: ignore[no-untyped-def]
    def fake(args: Args) -> dict[str, Any]:
        service, name = args.inputs["serviceName"], str(args.inputs[field])
        return {
            "id": _rid(args, f"Microsoft.ApiManagement/service/{service}/{kind}", name),
            "name": name,
        }

    return fake


def _workspace(args: Args) -> dict[str, Any]:
    name = str(args.inputs["workspaceName"])
    return {"id": _rid(args, _ML, name), "name": name, "workspaceId": fake_uuid("ws", name)}


def _generic(args: Args) -> dict[str, Any]:
    return {
        "id": _rid(
            args, "Microsoft.Resources/generic", f"{args.name}-{digest(args.typ, args.name)[:7]}"
        )
    }


def _role_definition(args: Args) -> dict[str, Any]:
    scope, guid = args.inputs["scope"], args.inputs["roleDefinitionId"]
    return {
        "id": f"{scope}/providers/Microsoft.Authorization/roleDefinitions/{guid}",
        "name": guid,
    }


RESOURCE_FAKES: dict[str, ResourceFake] = {
    "azure-native:authorization:RoleDefinition": _role_definition,
    "azure-native:": _generic,
    "azure-native:resources:ResourceGroup": _resource_group,
    "azure-native:storage:StorageAccount": _storage,
    "azure-native:storage:BlobContainer": _named(
        "Microsoft.Storage/storageAccounts/x/blobServices/default/containers", "containerName"
    ),
    "azure-native:keyvault:Vault": _vault,
    "azure-native:keyvault:Secret": _secret,
    "azure-native:containerregistry:Registry": _named(
        "Microsoft.ContainerRegistry/registries", "registryName"
    ),
    "azure-native:operationalinsights:Workspace": _named(
        "Microsoft.OperationalInsights/workspaces", "workspaceName"
    ),
    "azure-native:applicationinsights:Component": _named(
        "Microsoft.Insights/components", "resourceName"
    ),
    "azure-native:applicationinsights:Workbook": _named(
        "Microsoft.Insights/workbooks", "resourceName"
    ),
    "azure-native:managedidentity:UserAssignedIdentity": _identity,
    "azure-native:machinelearningservices:Workspace": _workspace,
    "azure-native:machinelearningservices:ModelContainer": _ml_child("models", "name"),
    "azure-native:machinelearningservices:EnvironmentContainer": _ml_child("environments", "name"),
    "azure-native:machinelearningservices:ModelVersion": _version("models"),
    "azure-native:machinelearningservices:EnvironmentVersion": _version("environments"),
    "azure-native:machinelearningservices:OnlineEndpoint": _endpoint,
    "azure-native:machinelearningservices:OnlineDeployment": _deployment,
    "azure-native:apimanagement:ApiManagementService": _apim,
    "azure-native:apimanagement:Api": _apim_child("apis", "apiId"),
    "azure-native:apimanagement:Subscription": _apim_child("subscriptions", "sid"),
    "azure-native:monitor:ActionGroup": _named(
        "Microsoft.Insights/actionGroups", "actionGroupName"
    ),
    "azure-native:monitor:AutoscaleSetting": _named(
        "Microsoft.Insights/autoscalesettings", "autoscaleSettingName"
    ),
}


def _client_config(_: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    return {
        "clientId": FAKE_DEPLOYER,
        "objectId": FAKE_DEPLOYER,
        "subscriptionId": FAKE_SUBSCRIPTION,
        "tenantId": FAKE_TENANT,
    }


def _endpoint_keys(args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    name = args.args.get("endpointName", "endpoint")
    return {"primaryKey": f"offline-plan-{name}-key", "secondaryKey": f"offline-plan-{name}-key2"}


def _subscription_secrets(args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    sid = args.args.get("sid", "sid")
    return {"primaryKey": digest("apim", sid)[:32], "secondaryKey": digest("apim2", sid)[:32]}


def _get_workspace(args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    group, name = args.args["resourceGroupName"], args.args["workspaceName"]
    base = f"/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/{group}/providers"
    return {
        "id": f"{base}/{_ML}/{name}",
        "name": name,
        "storageAccount": f"{base}/Microsoft.Storage/storageAccounts/st{digest(name)[:10]}",
        "containerRegistry": f"{base}/Microsoft.ContainerRegistry/registries/cr{digest(name)[:10]}",
        "applicationInsights": f"{base}/Microsoft.Insights/components/appi-{name}",
        "keyVault": f"{base}/Microsoft.KeyVault/vaults/kv{digest(name)[:10]}",
    }


CALL_FAKES: dict[str, CallFake] = {
    "azure-native:authorization:getClientConfig": _client_config,
    "azure-native:machinelearningservices:listOnlineEndpointKeys": _endpoint_keys,
    "azure-native:apimanagement:listSubscriptionSecrets": _subscription_secrets,
    "azure-native:machinelearningservices:getWorkspace": _get_workspace,
}
