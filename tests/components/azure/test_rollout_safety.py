"""What a rollout (a new model.version) and a redeploy change on Azure: the endpoint's
inputs stay the same, so azure-native does not PUT the endpoint (and with it an empty
traffic split) while the new colour is still being created."""

from __future__ import annotations

from typing import Any

from inferstack.components.azure.endpoint import AzureEndpoint
from inferstack.components.plan.mocks import PlanMocks
from inferstack.components.plan.run import Plan, run_under_mocks
from inferstack.components.spec.models import DeploymentSpec

ML = "azure-native:machinelearningservices"
REGISTRY = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml-platform/"
    "providers/Microsoft.ContainerRegistry/registries/mlplatformacr"
)


def spec(version: str, previous: str | None = None, **azure: Any) -> DeploymentSpec:
    options: dict[str, Any] = {
        "image_uri": f"mlplatformacr.azurecr.io/churn:{version}",
        "image_registry_id": REGISTRY,
        "apim_sku": "Standard",
        **azure,
    }
    if previous:
        options["previous"] = {
            "model_version": previous,
            "image_uri": f"mlplatformacr.azurecr.io/churn:{previous}",
            "artifact": f"azureml://datastores/workspaceblobstore/paths/churn/{previous}/",
        }
    return DeploymentSpec.model_validate(
        {
            "target": "azure",
            "environment": "prod",
            "model": {
                "name": "churn",
                "version": version,
                "framework": "sklearn",
                "artifact": f"azureml://datastores/workspaceblobstore/paths/churn/{version}/",
            },
            "scaling": {"min_replicas": 3, "max_replicas": 4},
            "observability": {"notify_emails": ["oncall@example.com"]},
            "rollout": {"strategy": "canary"},
            "targets": {"azure": options},
        }
    )


def deploy(deployment: DeploymentSpec) -> Plan:
    return run_under_mocks(
        lambda: AzureEndpoint("churn", deployment), mocks=PlanMocks(), stack="prod"
    )


def endpoint_inputs(plan: Plan) -> dict[str, Any]:
    (endpoint,) = plan.of_type(f"{ML}:OnlineEndpoint")
    return endpoint.inputs


def test_a_new_model_version_leaves_the_endpoint_unchanged() -> None:
    before = deploy(spec("1.0.0"))
    during = deploy(spec("1.1.0", previous="1.0.0", live_color="green"))
    assert endpoint_inputs(before) == endpoint_inputs(during)
    versions = {
        d.inputs["tags"]["inferstack-version"] for d in during.of_type(f"{ML}:OnlineDeployment")
    }
    assert versions == {"1.0.0", "1.1.0"}


def test_the_environment_version_covers_the_inference_config() -> None:
    from inferstack.components.azure.model import environment_version, inference_config

    config = inference_config()
    same = environment_version("1.0.0", "acr.azurecr.io/m:1", config)
    assert same == environment_version("1.0.0", "acr.azurecr.io/m:1", dict(config))
    moved = {**config, "scoring_route": {**config["scoring_route"], "port": 9090}}
    assert environment_version("1.0.0", "acr.azurecr.io/m:1", moved) != same
    assert environment_version("1.0.0", "acr.azurecr.io/m:2", config) != same
    assert same.startswith("1.0.0-")


def test_what_the_engine_does_not_send_on_updates() -> None:
    from inferstack.components.plan.run import run_plan

    plan = run_plan("prod-azure")
    # Autoscale owns the instance count (deploy with --refresh: docs/azure.md).
    for deployment in plan.of_type(f"{ML}:OnlineDeployment"):
        assert deployment.ignore_changes == ("sku.capacity",)
    # Key Vault takes its soft-delete retention at creation only.
    (vault,) = plan.of_type("azure-native:keyvault:Vault")
    assert vault.ignore_changes == ("properties.softDeleteRetentionInDays",)


def test_small_sizes_are_accepted_with_a_warning() -> None:
    from inferstack.components.azure.limits import AZURE_INSTANCE_SIZES, BELOW_RECOMMENDED

    assert set(AZURE_INSTANCE_SIZES) >= BELOW_RECOMMENDED
    assert "Standard_DS3_v2" not in BELOW_RECOMMENDED
