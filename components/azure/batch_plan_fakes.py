"""Plausible computed outputs of the batch scoring resources for the offline plan:
ARM IDs built from the resources' own names, the batch endpoint's scoring URI."""

from __future__ import annotations

from typing import Any

import pulumi

from inferstack.components.azure.plan_fakes import FAKE_SUBSCRIPTION, fake_uuid
from inferstack.components.plan.mocks import CallFake, ResourceFake

Args = pulumi.runtime.MockResourceArgs
_ML = "azure-native:machinelearningservices"


def _workspace_id(args: Args) -> str:
    group = args.inputs.get("resourceGroupName", "rg")
    workspace = args.inputs.get("workspaceName", "ws")
    return (
        f"/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/{group}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{workspace}"
    )


def _child(path: str, field: str) -> ResourceFake:
    def fake(args: Args) -> dict[str, Any]:
        name = str(args.inputs[field])
        return {"id": f"{_workspace_id(args)}/{path}/{name}", "name": name}

    return fake


def _compute(args: Args) -> dict[str, Any]:
    fake = _child("computes", "computeName")(args)
    identity = dict(args.inputs.get("identity") or {})
    # Inputs list user-assigned identity IDs; Azure answers a map of them.
    identity["userAssignedIdentities"] = {
        rid: {"principalId": fake_uuid("uai", rid), "clientId": fake_uuid("uaic", rid)}
        for rid in identity.get("userAssignedIdentities") or []
    }
    return {**fake, "identity": identity}


def _code_version(args: Args) -> dict[str, Any]:
    name, version = args.inputs["name"], args.inputs["version"]
    return {"id": f"{_workspace_id(args)}/codes/{name}/versions/{version}", "name": version}


def _batch_endpoint(args: Args) -> dict[str, Any]:
    name = str(args.inputs["endpointName"])
    location = args.inputs.get("location", "eastus")
    properties = {
        **args.inputs.get("properties", {}),
        "scoringUri": f"https://{name}.{location}.inference.ml.azure.com/jobs",
    }
    return {
        "id": f"{_workspace_id(args)}/batchEndpoints/{name}",
        "name": name,
        "properties": properties,
    }


def _batch_deployment(args: Args) -> dict[str, Any]:
    endpoint, name = args.inputs["endpointName"], args.inputs["deploymentName"]
    return {
        "id": f"{_workspace_id(args)}/batchEndpoints/{endpoint}/deployments/{name}",
        "name": name,
    }


RESOURCE_FAKES: dict[str, ResourceFake] = {
    f"{_ML}:Compute": _compute,
    f"{_ML}:CodeContainer": _child("codes", "name"),
    f"{_ML}:CodeVersion": _code_version,
    f"{_ML}:BatchEndpoint": _batch_endpoint,
    f"{_ML}:BatchDeployment": _batch_deployment,
}
CALL_FAKES: dict[str, CallFake] = {}
