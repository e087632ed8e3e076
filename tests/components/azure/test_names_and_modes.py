"""Every physical name the Azure stack sets fits the Azure rule of its resource type
(azure/naming.py) for the longest names the spec accepts (a 40-character model name and
a 100-character stack name); an existing workspace given by id is used, not created;
the endpoint's environment variables are ones the runtime reads."""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.components.azure.endpoint import AzureEndpoint
from inferstack.components.azure.naming import NAME_RULES, AzureNameRule
from inferstack.components.plan.mocks import PlanMocks
from inferstack.components.plan.run import Plan, run_under_mocks
from inferstack.components.spec.config import find_project_root
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.contract import RUNTIME_ENV

MODEL = "m" + "-long-model-name-for-naming-tests" + "x" * 6  # 40, the spec's longest
STACK = ("Prod_eu-west-1.team-" * 5)[:100]
IMAGE = "mlplatformacr.azurecr.io/churn:1.0.0"
WORKSPACE_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml-platform/"
    "providers/Microsoft.MachineLearningServices/workspaces/shared-ws"
)
REGISTRY = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml-platform/"
    "providers/Microsoft.ContainerRegistry/registries/mlplatformacr"
)
assert len(MODEL) == 40


def spec(**azure: Any) -> DeploymentSpec:
    bundle = find_project_root() / "examples" / "logreg-20f" / "bundle"
    return DeploymentSpec.model_validate(
        {
            "target": "azure",
            "environment": "prod",
            "model": {
                "name": MODEL,
                "version": "1.0.0",
                "framework": "sklearn",
                "artifact": str(bundle),
            },
            "compute": {"accelerator": "nvidia-t4"},
            "scaling": {"min_replicas": 2, "max_replicas": 4},
            "observability": {"notify_emails": ["oncall@example.com"]},
            "rollout": {"strategy": "canary"},
            "targets": {
                "azure": {
                    "image_uri": IMAGE,
                    "image_registry_id": REGISTRY,
                    "apim_sku": "Standard",
                    "previous": {
                        "model_version": "0.9.0",
                        "image_uri": IMAGE,
                        "artifact": "azureml://datastores/workspaceblobstore/paths/m/0.9.0/",
                    },
                    **azure,
                }
            },
        }
    )


def deploy(deployment: DeploymentSpec, stack: str = STACK) -> Plan:
    return run_under_mocks(
        lambda: AzureEndpoint(deployment.model.name, deployment),
        mocks=PlanMocks(),
        stack=stack,
    )


@pytest.fixture(scope="module")
def longest() -> Plan:
    return deploy(spec())


def _name(inputs: dict[str, Any], field: str) -> Any:
    if field == "resourceName":  # applicationinsights uses resourceName_ in Python
        return inputs.get("resourceName")
    return inputs.get(field)


@pytest.mark.parametrize("rule", NAME_RULES, ids=lambda r: r.what)
def test_every_name_fits_its_rule(longest: Plan, rule: AzureNameRule) -> None:
    tokens = [rule.token]
    if rule.token == "azure-native:monitor:MetricAlert":
        tokens += ["azure-native:monitor:ScheduledQueryRule"]
    if rule.token == "azure-native:machinelearningservices:ModelContainer":
        tokens += ["azure-native:machinelearningservices:EnvironmentContainer"]
    names = [
        _name(r.inputs, rule.field)
        for token in tokens
        for r in longest.of_type(token)
        if _name(r.inputs, rule.field)
    ]
    assert names, f"no {rule.what} in the plan"
    for name in names:
        assert not rule.problems(name), (name, rule.problems(name))


def test_key_vault_name_with_its_random_suffix_fits(longest: Plan) -> None:
    (vault,) = longest.of_type("azure-native:keyvault:Vault")
    name = vault.inputs["vaultName"]
    assert len(name) <= 24
    assert not next(r for r in NAME_RULES if r.what == "key vault").problems(name)


def test_endpoint_names_differ_per_stack() -> None:
    a = deploy(spec(), stack="dev").of_type("azure-native:machinelearningservices:OnlineEndpoint")
    b = deploy(spec(), stack="prod").of_type("azure-native:machinelearningservices:OnlineEndpoint")
    assert a[0].inputs["endpointName"] != b[0].inputs["endpointName"]


def test_an_existing_workspace_is_used_not_created() -> None:
    plan = deploy(spec(workspace_id=WORKSPACE_ID), stack="shared")
    types = {r.type for r in plan.resources}
    for created in (
        "azure-native:machinelearningservices:Workspace",
        "azure-native:resources:ResourceGroup",
        "azure-native:storage:StorageAccount",
        "azure-native:containerregistry:Registry",
    ):
        assert created not in types
    (endpoint,) = plan.of_type("azure-native:machinelearningservices:OnlineEndpoint")
    assert endpoint.inputs["workspaceName"] == "shared-ws"
    assert endpoint.inputs["resourceGroupName"] == "ml-platform"
    roles = plan.of_type("azure-native:authorization:RoleAssignment")
    scopes = {r.inputs["scope"] for r in roles}
    assert any("/registries/cr" in s for s in scopes)  # the workspace's own registry


def test_deployments_set_only_variables_the_runtime_reads(longest: Plan) -> None:
    for deployment in longest.of_type("azure-native:machinelearningservices:OnlineDeployment"):
        env = deployment.inputs["properties"]["environmentVariables"]
        assert set(env) <= RUNTIME_ENV


def test_a_local_bundle_of_another_version_is_refused() -> None:
    from inferstack.components.errors import SpecError

    with pytest.raises(SpecError, match="version"):
        deploy(
            spec().model_copy(
                update={"model": spec().model.model_copy(update={"version": "2.0.0"})}
            )
        )


def test_a_local_previous_bundle_must_be_of_the_previous_version() -> None:
    from inferstack.components.errors import SpecError

    bundle = str(find_project_root() / "examples" / "logreg-20f" / "bundle")  # 1.0.0
    previous = {"model_version": "0.9.0", "image_uri": IMAGE, "artifact": bundle}
    with pytest.raises(SpecError, match=r"0\.9\.0"):
        deploy(spec(previous=previous))


def test_the_deployer_grant_is_only_made_on_storage_the_stack_creates(longest: Plan) -> None:
    from inferstack.components.azure.roles import STORAGE_BLOB_DATA_CONTRIBUTOR

    def contributors(plan: Plan) -> list[Any]:
        return [
            r
            for r in plan.of_type("azure-native:authorization:RoleAssignment")
            if r.inputs["roleDefinitionId"].endswith(STORAGE_BLOB_DATA_CONTRIBUTOR)
        ]

    assert len(contributors(longest)) == 1
    shared = deploy(spec(workspace_id=WORKSPACE_ID), stack="shared")
    assert contributors(shared) == []  # a prerequisite there (RoleAssignmentExists)


def test_the_same_grant_twice_is_one_assignment_name() -> None:
    from inferstack.components.azure.roles import ACR_PULL, assignment_name

    scope = "/subscriptions/s/resourceGroups/R/providers/Microsoft.ContainerRegistry/registries/a"
    assert assignment_name(scope, "p", ACR_PULL) == assignment_name(scope.lower(), "p", ACR_PULL)
    assert assignment_name(scope, "p", ACR_PULL) != assignment_name(scope, "q", ACR_PULL)


def test_an_existing_workspace_without_a_registry_is_named() -> None:
    from inferstack.components.azure.workspace import _require_registry
    from inferstack.components.errors import DeployError

    with pytest.raises(DeployError, match="has no container registry"):
        _require_registry("", WORKSPACE_ID)
    assert _require_registry("/x/registries/cr1", WORKSPACE_ID) == "/x/registries/cr1"


@pytest.mark.parametrize(
    ("token", "field"),
    [
        ("azure-native:machinelearningservices:Workspace", "workspaceName"),
        ("azure-native:apimanagement:ApiManagementService", "serviceName"),
        ("azure-native:keyvault:Vault", "vaultName"),
    ],
)
def test_soft_deleted_resources_end_with_a_random_suffix(
    longest: Plan, token: str, field: str
) -> None:
    (resource,) = longest.of_type(token)
    suffixes = {
        r.name: r
        for r in longest.of_type("random:index/randomString:RandomString")
        if r.parent == resource.parent or r.name.startswith(resource.name)
    }
    assert f"{resource.name}-suffix" in suffixes, sorted(suffixes)
    assert suffixes[f"{resource.name}-suffix"].inputs["length"] == 6
    assert resource.inputs[field].rsplit("-", 1)[0]  # the name stays readable before it
