"""Data capture on Azure under the plan's mocks: a private container in the workspace's
storage account, the endpoint identity may write that container only, and every
deployment gets the capture URI and sample rate."""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.components.azure.capture import account_of
from inferstack.components.azure.plan_fakes import fake_uuid
from inferstack.components.azure.roles import STORAGE_BLOB_DATA_CONTRIBUTOR
from inferstack.components.plan.run import Plan, PlannedResource
from inferstack.components.spec.models import DeploymentSpec
from tests.components.azure.test_names_and_modes import WORKSPACE_ID, deploy, spec

ONLINE_DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"


def with_capture(percent: float, **azure: Any) -> DeploymentSpec:
    data = spec(**azure).model_dump(mode="json", exclude_unset=True)
    data["observability"] = {**data.get("observability", {}), "data_capture_percent": percent}
    return DeploymentSpec.model_validate(data)


@pytest.fixture(scope="module")
def plan() -> Plan:
    return deploy(with_capture(10))


def _container(plan: Plan) -> PlannedResource:
    found = [
        r
        for r in plan.of_type("azure-native:storage:BlobContainer")
        if r.inputs["containerName"].startswith("capture-")
    ]
    assert len(found) == 1
    return found[0]


def _writers(plan: Plan) -> list[dict[str, Any]]:
    return [
        r.inputs
        for r in plan.of_type("azure-native:authorization:RoleAssignment")
        if r.inputs["roleDefinitionId"].endswith(STORAGE_BLOB_DATA_CONTRIBUTOR)
        and "capture" in r.name
    ]


def test_the_container_is_private_in_the_workspace_account(plan: Plan) -> None:
    container = _container(plan).inputs
    assert container["publicAccess"] == "None"
    (account,) = plan.of_type("azure-native:storage:StorageAccount")
    assert container["accountName"] == account.inputs["accountName"]
    assert account.inputs["allowBlobPublicAccess"] is False
    assert account.inputs["allowSharedKeyAccess"] is False
    assert account.inputs["encryption"]["services"]["blob"]["enabled"] is True


def test_the_endpoint_identity_writes_that_container_only(plan: Plan) -> None:
    container = _container(plan).inputs["containerName"]
    (grant,) = _writers(plan)
    assert grant["scope"].endswith(f"/blobServices/default/containers/{container}")
    assert "/storageAccounts/" in grant["scope"]
    assert grant["principalType"] == "ServicePrincipal"
    identities = plan.of_type("azure-native:managedidentity:UserAssignedIdentity")
    assert identities
    contributors = [
        r.inputs["scope"]
        for r in plan.of_type("azure-native:authorization:RoleAssignment")
        if r.inputs["roleDefinitionId"].endswith(STORAGE_BLOB_DATA_CONTRIBUTOR)
        and r.inputs.get("principalType") == "ServicePrincipal"
    ]
    assert contributors == [grant["scope"]]  # no account- or group-wide write


def test_every_deployment_gets_the_capture_uri_and_rate(plan: Plan) -> None:
    container = _container(plan).inputs
    deployments = plan.of_type(ONLINE_DEPLOYMENT)
    (identity,) = [
        r
        for r in plan.of_type("azure-native:managedidentity:UserAssignedIdentity")
        if "serving" in r.name
    ]
    assert len(deployments) == 2  # blue and green
    for deployment in deployments:
        env = deployment.inputs["properties"]["environmentVariables"]
        assert env["INFERSTACK_CAPTURE_URI"] == (
            f"https://{container['accountName']}.blob.core.windows.net/"
            f"{container['containerName']}/capture"
        )
        assert env["INFERSTACK_CAPTURE_SAMPLE_RATE"] == "0.1"
        # the endpoint identity's client id (the plan's fake answers a stable UUID per
        # resource name), which DefaultAzureCredential needs for a user-assigned identity
        assert env["AZURE_CLIENT_ID"] == fake_uuid("client", identity.name)


def test_an_existing_workspace_gets_the_container_in_its_own_account() -> None:
    plan = deploy(with_capture(5, workspace_id=WORKSPACE_ID), stack="shared")
    container = _container(plan).inputs
    (grant,) = _writers(plan)
    assert grant["scope"].endswith(f"/containers/{container['containerName']}")
    group, account = account_of(grant["scope"].split("/blobServices/")[0])
    assert (container["resourceGroupName"], container["accountName"]) == (group, account)


def test_without_capture_no_container_no_grant_no_env() -> None:
    plan = deploy(spec())
    assert not [
        r
        for r in plan.of_type("azure-native:storage:BlobContainer")
        if r.inputs["containerName"].startswith("capture-")
    ]
    assert not _writers(plan)
    for deployment in plan.of_type(ONLINE_DEPLOYMENT):
        assert (
            "INFERSTACK_CAPTURE_URI" not in deployment.inputs["properties"]["environmentVariables"]
        )


def test_container_names_fit_azures_rule(plan: Plan) -> None:
    name = _container(plan).inputs["containerName"]
    assert 3 <= len(name) <= 63
    assert name == name.lower()
    assert "--" not in name
