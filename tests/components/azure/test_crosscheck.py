"""A second, independent implementation checks the first: azure-ai-ml's own entities,
built from the same spec and validated by the SDK's schemas (azure/crosscheck.py), set
the same instance type, counts, request settings, probes, routes and port, and traffic
as the Pulumi component declares in the offline plan."""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml

from inferstack.components.azure.crosscheck import azure_ml_entities, documents
from inferstack.components.azure.traffic import KIND as TRAFFIC
from inferstack.components.plan.run import Plan, run_plan
from inferstack.components.spec.config import find_project_root, read_stack_config
from inferstack.components.spec.models import DeploymentSpec

# azure-ai-ml's schemas use marshmallow options that marshmallow 3.2x deprecates.
pytestmark = [
    pytest.mark.filterwarnings("ignore::marshmallow.warnings.RemovedInMarshmallow4Warning"),
    pytest.mark.filterwarnings("ignore::marshmallow.warnings.ChangedInMarshmallow4Warning"),
]

ML = "azure-native:machinelearningservices"
STACKS = ("prod-azure", "staging-azure", "dev-azure")


def spec_of(stack: str) -> DeploymentSpec:
    config = read_stack_config(find_project_root(), stack)
    return DeploymentSpec.model_validate(config["inferstack:deployment"])


@pytest.fixture(scope="module", params=STACKS)
def both(request: pytest.FixtureRequest) -> tuple[str, Plan, Any]:
    stack = request.param
    return stack, run_plan(stack), azure_ml_entities(spec_of(stack), "inferstack", stack)


def test_deployments_agree(both: tuple[str, Plan, Any]) -> None:
    _, plan, sdk = both
    planned = {d.inputs["deploymentName"]: d.inputs for d in plan.of_type(f"{ML}:OnlineDeployment")}
    assert set(planned) == set(sdk.deployments)
    for color, rest in sdk.deployments.items():
        ours, theirs = planned[color]["properties"], rest["properties"]
        assert ours["instanceType"] == theirs["instanceType"]
        assert ours["endpointComputeType"] == theirs["endpointComputeType"]
        assert planned[color]["sku"]["capacity"] == rest["sku"]["capacity"]
        assert planned[color]["sku"]["name"] == rest["sku"]["name"]
        assert ours["appInsightsEnabled"] is theirs["appInsightsEnabled"] is True
        for key in ("requestTimeout", "maxConcurrentRequestsPerInstance"):
            assert ours["requestSettings"][key] == theirs["requestSettings"][key], key
        for probe in ("livenessProbe", "readinessProbe"):
            assert ours[probe] == theirs[probe], probe
        # Both name the same model and environment versions (ARM ID vs name:version).
        for field, kind in (("model", "models"), ("environmentId", "environments")):
            name, version = theirs[field].split(":")
            assert ours[field].endswith(f"/{kind}/{name}/versions/{version}") or (
                kind == "environments" and f"/{kind}/{name}/versions/{version}-" in ours[field]
            ), (field, ours[field], theirs[field])


def test_environment_contract_agrees(both: tuple[str, Plan, Any]) -> None:
    _, plan, sdk = both
    planned = {
        e.inputs["version"].rsplit("-", 1)[0]: e.inputs["properties"]
        for e in plan.of_type(f"{ML}:EnvironmentVersion")
    }
    assert set(planned) == set(sdk.environments)
    for version, rest in sdk.environments.items():
        assert planned[version]["inferenceConfig"] == rest["properties"]["inferenceConfig"]
        assert planned[version]["image"] == rest["properties"]["image"]


def test_models_agree(both: tuple[str, Plan, Any]) -> None:
    _, plan, sdk = both
    planned = {m.inputs["version"]: m.inputs for m in plan.of_type(f"{ML}:ModelVersion")}
    assert set(planned) == set(sdk.models)
    for version, rest in sdk.models.items():
        assert planned[version]["properties"]["modelType"] == rest["properties"]["modelType"]


def test_endpoint_and_traffic_agree(both: tuple[str, Plan, Any]) -> None:
    _, plan, sdk = both
    (endpoint,) = plan.of_type(f"{ML}:OnlineEndpoint")
    ours, theirs = endpoint.inputs["properties"], sdk.endpoint["properties"]
    assert ours["authMode"] == theirs["authMode"]
    assert ours["publicNetworkAccess"].lower() == theirs["publicNetworkAccess"].lower()
    (traffic,) = [
        r for r in plan.of_type("pulumi-python:dynamic:Resource") if r.inputs.get("kind") == TRAFFIC
    ]
    assert traffic.inputs["traffic"] == theirs["traffic"]
    assert traffic.inputs["mirror"] == theirs["mirrorTraffic"]
    assert sum(theirs["traffic"].values()) == 100


def test_the_sdk_schema_refuses_what_azure_refuses() -> None:
    """The SDK's schema validation is real: a deployment without an instance count, or a
    probe with a string period, is refused by azure-ai-ml itself."""
    from azure.ai.ml import load_online_deployment
    from azure.ai.ml.exceptions import ValidationException
    from marshmallow.exceptions import ValidationError as SchemaError

    doc = documents(spec_of("prod-azure"), "inferstack", "prod-azure")["deployments"]["blue"]
    broken = {**doc, "liveness_probe": {**doc["liveness_probe"], "period": "ten"}}
    with pytest.raises((ValidationException, SchemaError)):
        load_online_deployment(source=io.StringIO(yaml.safe_dump(broken)))
