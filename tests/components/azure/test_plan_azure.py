"""The real stack program for the Azure stacks under the offline plan: the resources the
issue lists, the policy pack, and the wiring between them (the deployment names the
endpoint and the registered model version, traffic sums to 100, autoscale targets the
deployment, the API Management backend is the scoring URI, alerts scope the endpoint)."""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.components.azure.model import inference_config
from inferstack.components.azure.plan_fakes import FAKE_SUBSCRIPTION
from inferstack.components.azure.roles import ACR_PULL, STORAGE_BLOB_DATA_READER
from inferstack.components.azure.serving import MODEL_MOUNT_PATH
from inferstack.components.azure.traffic import KIND as TRAFFIC
from inferstack.components.plan.run import Plan, PlannedResource, run_plan
from inferstack.policies import Subject, evaluate
from inferstack.runtime.contract import PORT, Env, Routes

ML = "azure-native:machinelearningservices"
EXPECTED = {
    "inferstack:azure:AzureEndpoint",
    "azure-native:resources:ResourceGroup",
    "azure-native:storage:StorageAccount",
    "azure-native:keyvault:Vault",
    "azure-native:operationalinsights:Workspace",
    "azure-native:applicationinsights:Component",
    "azure-native:containerregistry:Registry",
    f"{ML}:Workspace",
    f"{ML}:ModelContainer",
    f"{ML}:ModelVersion",
    f"{ML}:EnvironmentContainer",
    f"{ML}:EnvironmentVersion",
    f"{ML}:OnlineEndpoint",
    f"{ML}:OnlineDeployment",
    "azure-native:managedidentity:UserAssignedIdentity",
    "azure-native:authorization:RoleAssignment",
    "azure-native:monitor:AutoscaleSetting",
    "azure-native:apimanagement:ApiManagementService",
    "azure-native:apimanagement:Api",
    "azure-native:apimanagement:ApiOperation",
    "azure-native:apimanagement:ApiPolicy",
    "azure-native:apimanagement:Backend",
    "azure-native:apimanagement:NamedValue",
    "azure-native:apimanagement:Subscription",
    "azure-native:keyvault:Secret",
    "azure-native:monitor:DiagnosticSetting",
    "azure-native:monitor:ActionGroup",
    "azure-native:monitor:MetricAlert",
    "azure-native:monitor:ScheduledQueryRule",
    "azure-native:applicationinsights:Workbook",
    "pulumi-python:dynamic:Resource",
}


@pytest.fixture(scope="module")
def prod() -> Plan:
    return run_plan("prod-azure")


@pytest.fixture(scope="module")
def staging() -> Plan:
    return run_plan("staging-azure")


def one(plan: Plan, token: str) -> PlannedResource:
    (resource,) = plan.of_type(token)
    return resource


def dynamic(plan: Plan, kind: str) -> PlannedResource:
    (resource,) = [
        r for r in plan.of_type("pulumi-python:dynamic:Resource") if r.inputs.get("kind") == kind
    ]
    return resource


def endpoint_id(plan: Plan) -> str:
    endpoint = one(plan, f"{ML}:OnlineEndpoint").inputs
    rg, ws, name = (
        endpoint["resourceGroupName"],
        endpoint["workspaceName"],
        endpoint["endpointName"],
    )
    return (
        f"/subscriptions/{FAKE_SUBSCRIPTION}/resourceGroups/{rg}/providers/"
        f"Microsoft.MachineLearningServices/workspaces/{ws}/onlineEndpoints/{name}"
    )


def test_prod_lists_the_resources_and_passes_the_policy_pack(prod: Plan) -> None:
    assert {r.type for r in prod.resources} >= EXPECTED
    violations = evaluate(Subject(r.type, r.name, r.inputs, r.urn) for r in prod.resources)
    assert violations == []
    assert prod.outputs["endpoint_url"].startswith("https://apim-churn-logreg-")
    assert prod.outputs["api_key"] == "[secret]"


@pytest.mark.parametrize("stack", ["dev-azure", "staging-azure"])
def test_dev_and_staging_pass_the_policy_pack(stack: str) -> None:
    plan = run_plan(stack)
    assert evaluate(Subject(r.type, r.name, r.inputs, r.urn) for r in plan.resources) == []


def test_deployment_names_the_endpoint_and_the_registered_model_version(prod: Plan) -> None:
    deployment = one(prod, f"{ML}:OnlineDeployment").inputs
    endpoint = one(prod, f"{ML}:OnlineEndpoint").inputs
    version = one(prod, f"{ML}:ModelVersion").inputs
    environment = one(prod, f"{ML}:EnvironmentVersion").inputs
    assert deployment["endpointName"] == endpoint["endpointName"]
    assert deployment["deploymentName"] == "blue"
    assert version["version"] == "1.0.0"
    workspace = f"{endpoint_id(prod).split('/onlineEndpoints/')[0]}"
    props = deployment["properties"]
    assert props["model"] == f"{workspace}/models/{version['name']}/versions/1.0.0"
    assert props["environmentId"] == (
        f"{workspace}/environments/{environment['name']}/versions/{environment['version']}"
    )
    assert props["instanceType"] == "Standard_NC4as_T4_v3"
    assert props["modelMountPath"] == MODEL_MOUNT_PATH
    env = props["environmentVariables"]
    assert Env.BUNDLE_DIR not in env  # the bundle baked into the image
    assert env[Env.MODEL_VERSION] == "1.0.0"
    assert props["requestSettings"]["requestTimeout"] == "PT10S"
    assert props["requestSettings"]["maxConcurrentRequestsPerInstance"] == 4
    assert props["livenessProbe"]["failureThreshold"] == 30
    assert props["appInsightsEnabled"] is True
    assert deployment["sku"]["capacity"] == 3
    assert "sku.capacity" in one(prod, f"{ML}:OnlineDeployment").ignore_changes


def test_environment_declares_the_runtime_routes_and_port(prod: Plan) -> None:
    config = one(prod, f"{ML}:EnvironmentVersion").inputs["properties"]["inferenceConfig"]
    assert config == {
        "livenessRoute": {"path": Routes.LIVE, "port": PORT},
        "readinessRoute": {"path": Routes.READY, "port": PORT},
        "scoringRoute": {"path": Routes.SCORE, "port": PORT},
    }
    assert set(inference_config()) == {"liveness_route", "readiness_route", "scoring_route"}


def test_traffic_sums_to_100_and_is_set_after_the_deployments(prod: Plan) -> None:
    traffic = dynamic(prod, TRAFFIC)
    assert traffic.inputs["traffic"] == {"blue": 100}
    assert traffic.inputs["endpoint_id"] == endpoint_id(prod)
    assert "traffic" not in one(prod, f"{ML}:OnlineEndpoint").inputs["properties"]


def test_canary_splits_blue_and_green(staging: Plan) -> None:
    deployments = {
        d.inputs["deploymentName"]: d.inputs for d in staging.of_type(f"{ML}:OnlineDeployment")
    }
    assert set(deployments) == {"blue", "green"}
    assert deployments["green"]["properties"]["environmentVariables"][Env.MODEL_VERSION] == "1.0.0"
    assert deployments["blue"]["properties"]["environmentVariables"][Env.MODEL_VERSION] == "0.9.0"
    traffic = dynamic(staging, TRAFFIC).inputs["traffic"]
    assert traffic == {"green": 10, "blue": 90}
    assert sum(traffic.values()) == 100
    versions = {v.inputs["version"] for v in staging.of_type(f"{ML}:ModelVersion")}
    assert versions == {"1.0.0", "0.9.0"}


def test_autoscale_targets_the_deployment(prod: Plan) -> None:
    setting = one(prod, "azure-native:monitor:AutoscaleSetting").inputs
    assert setting["targetResourceUri"] == f"{endpoint_id(prod)}/deployments/blue"
    (profile,) = setting["profiles"]
    assert profile["capacity"] == {"minimum": "3", "maximum": "6", "default": "3"}
    out, back = profile["rules"]
    assert out["metricTrigger"]["metricName"] == "RequestsPerMinute"
    assert out["metricTrigger"]["metricResourceUri"] == endpoint_id(prod)
    assert out["metricTrigger"]["dividePerInstance"] is True
    assert out["metricTrigger"]["threshold"] == 600
    assert back["metricTrigger"]["threshold"] < out["metricTrigger"]["threshold"]
    assert back["scaleAction"]["direction"] == "Decrease"


def test_the_gateway_backend_is_the_scoring_uri(prod: Plan) -> None:
    endpoint = one(prod, f"{ML}:OnlineEndpoint").inputs
    backend = one(prod, "azure-native:apimanagement:Backend").inputs
    assert backend["url"] == f"https://{endpoint['endpointName']}.eastus.inference.ml.azure.com"
    operation = one(prod, "azure-native:apimanagement:ApiOperation").inputs
    assert (operation["method"], operation["urlTemplate"]) == ("POST", Routes.SCORE)
    policy = one(prod, "azure-native:apimanagement:ApiPolicy").inputs["value"]
    assert '<rate-limit-by-key calls="400" renewal-period="2"' in policy
    assert '<quota-by-key calls="5000000" renewal-period="86400"' in policy
    assert "{{endpoint-key}}" in policy
    secret = one(prod, "azure-native:keyvault:Secret").inputs
    named = one(prod, "azure-native:apimanagement:NamedValue").inputs
    # The versioned URI (…/secrets/<name>/<version>): a new key updates the named value.
    assert named["keyVault"]["secretIdentifier"].endswith(f"/secrets/{secret['secretName']}/0")
    assert secret["properties"] == "[secret]"


def test_alerts_scope_the_endpoint_and_deployments(prod: Plan) -> None:
    alerts = {
        a.name.rsplit("-", 1)[-1]: a.inputs
        for a in prod.of_type("azure-native:monitor:MetricAlert")
    }
    assert alerts["latency"]["scopes"] == [endpoint_id(prod)]
    assert alerts["latency"]["criteria"]["allOf"][0]["metricName"] == "RequestLatency_P99"
    assert alerts["latency"]["criteria"]["allOf"][0]["threshold"] == 250
    for what in ("cpu", "memory", "gpu"):
        assert alerts[what]["scopes"] == [f"{endpoint_id(prod)}/deployments/blue"]
    group = one(prod, "azure-native:monitor:ActionGroup").inputs
    assert [r["emailAddress"] for r in group["emailReceivers"]] == ["ml-oncall@example.com"]
    logs = {
        q.name.rsplit("-", 1)[-1]: q.inputs
        for q in prod.of_type("azure-native:monitor:ScheduledQueryRule")
    }
    endpoint = one(prod, f"{ML}:OnlineEndpoint").inputs["endpointName"]
    assert f'/onlineendpoints/{endpoint}"' in logs["drift"]["criteria"]["allOf"][0]["query"]
    assert logs["drift"]["criteria"]["allOf"][0]["threshold"] == 0.2
    assert logs["5xx"]["criteria"]["allOf"][0]["threshold"] == 1
    diagnostics = {
        d.inputs["resourceUri"] for d in prod.of_type("azure-native:monitor:DiagnosticSetting")
    }
    assert endpoint_id(prod) in diagnostics


def _roles(plan: Plan) -> dict[str, dict[str, Any]]:
    return {
        r.inputs["roleDefinitionId"].rsplit("/", 1)[-1]: r.inputs
        for r in plan.of_type("azure-native:authorization:RoleAssignment")
    }


def test_endpoint_identity_may_pull_the_image_and_read_the_model(prod: Plan) -> None:
    roles = _roles(prod)
    pulls = [
        r.inputs
        for r in prod.of_type("azure-native:authorization:RoleAssignment")
        if r.inputs["roleDefinitionId"].endswith(ACR_PULL)
    ]
    # The image's registry and the workspace's (Azure ML's baseline for an endpoint identity).
    scopes = sorted(p["scope"].rsplit("/", 1)[-1] for p in pulls)
    assert scopes[1] == "mlplatformacr"
    assert scopes[0].startswith("crchurnlogreg")
    assert {p["principalType"] for p in pulls} == {"ServicePrincipal"}
    assert len({p["roleAssignmentName"] for p in pulls}) == 2
    assert "/storageAccounts/" in roles[STORAGE_BLOB_DATA_READER]["scope"]
    endpoint = one(prod, f"{ML}:OnlineEndpoint").inputs
    assert endpoint["identity"]["type"] == "UserAssigned"
    assert endpoint["properties"]["authMode"] == "Key"


def test_workspace_pieces_are_locked_down(prod: Plan) -> None:
    storage = one(prod, "azure-native:storage:StorageAccount").inputs
    assert storage["allowSharedKeyAccess"] is False
    workspace = one(prod, f"{ML}:Workspace").inputs
    assert workspace["systemDatastoresAuthMode"] == "identity"
    assert workspace["identity"] == {"type": "SystemAssigned"}
    vault = one(prod, "azure-native:keyvault:Vault").inputs
    assert vault["properties"]["enablePurgeProtection"] is True
    suffixes = prod.of_type("random:index/randomString:RandomString")
    assert vault["vaultName"].startswith("kv-churn-logreg-")
    assert {s.inputs["length"] for s in suffixes} == {6}
    assert len(suffixes) == 3  # key vault, workspace, API Management
    assert one(prod, "azure-native:containerregistry:Registry").inputs["adminUserEnabled"] is False


# Maps whose keys are data (environment variable names, tags), not argument names.
_DATA_MAPS = ("environmentVariables", "tags", "traffic", "mirror", "files")


def _snake_keys(value: Any, path: str = "") -> list[str]:
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if "_" in key.strip("_") and not path.endswith(_DATA_MAPS):
                found.append(f"{path}.{key}")
            found += _snake_keys(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            found += _snake_keys(item, f"{path}[]")
    return found


@pytest.mark.parametrize("stack", ["prod-azure", "staging-azure"])
def test_the_provider_gets_camel_case_arguments(stack: str) -> None:
    """A dict given for a union-typed input (a deployment's properties, an alert's
    criteria) reaches the provider with its snake_case keys untranslated, which Azure
    would ignore; the Args classes are used there instead."""
    plan = run_plan(stack)
    wrong = {
        r.name: _snake_keys(r.inputs)
        for r in plan.resources
        if r.type.startswith("azure-native:") and _snake_keys(r.inputs)
    }
    assert wrong == {}


def test_models_are_registered_from_the_stacks_identity_based_datastore(prod: Plan) -> None:
    datastore = one(prod, f"{ML}:Datastore").inputs
    assert datastore["properties"]["credentials"] == {"credentialsType": "None"}
    assert datastore["properties"]["datastoreType"] == "AzureBlob"
    assert datastore["properties"]["containerName"] == "models"
    storage = one(prod, "azure-native:storage:StorageAccount").inputs
    assert datastore["properties"]["accountName"] == storage["accountName"]
    (version,) = prod.of_type(f"{ML}:ModelVersion")
    uri = version.inputs["properties"]["modelUri"]
    workspace = one(prod, f"{ML}:Workspace").inputs["workspaceName"]
    assert uri.startswith(f"azureml://subscriptions/{FAKE_SUBSCRIPTION}/resourcegroups/")
    assert uri.endswith(
        f"/workspaces/{workspace}/datastores/{datastore['name']}/paths/churn-logreg/1.0.0/"
    )
