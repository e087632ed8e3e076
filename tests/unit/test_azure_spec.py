"""The Azure target's spec rules and name rules, without Pulumi: each limit the target
encodes (azure/rules.py, azure/naming.py, azure/limits.py) refuses what Azure would,
naming the field, and the longest names the spec accepts still fit."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from inferstack.components.azure.limits import AZURE_INSTANCE_SIZES, quota_vcpus
from inferstack.components.azure.naming import (
    CONTAINER_REGISTRY,
    KEY_VAULT,
    NAME_RULES,
    ONLINE_ENDPOINT,
    STORAGE_ACCOUNT,
    fit,
    global_name,
)
from inferstack.components.azure.rules import SPOT_MESSAGE, live_traffic_percent
from inferstack.components.errors import SpecError
from inferstack.components.spec.models import DeploymentSpec
from inferstack.components.targets import profile

IMAGE = "inferstackreg.azurecr.io/churn:1.0.0"
REGISTRY = (
    "/subscriptions/s/resourceGroups/r/providers/Microsoft.ContainerRegistry/registries/"
    "inferstackreg"
)
WORKSPACE = (
    "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/"
    "workspaces/shared"
)
LONGEST_MODEL = "m" + "-long-model-name-for-naming-tests" + "x" * 6
LONGEST_STACK = ("Prod_eu-west-1.team-" * 5)[:100]


def spec_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "target": "azure",
        "environment": "prod",
        "model": {"name": "churn", "version": "1.1.0", "framework": "sklearn", "artifact": "b"},
        "compute": {"accelerator": "nvidia-t4"},
        "scaling": {"min_replicas": 2, "max_replicas": 4},
        "observability": {"notify_emails": ["oncall@example.com"]},
        "targets": {
            "azure": {"image_uri": IMAGE, "image_registry_id": REGISTRY, "apim_sku": "Basic"}
        },
    }
    for path, value in changes.items():
        node = data
        *parents, leaf = path.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return copy.deepcopy(data)


def refused(**changes: Any) -> str:
    from pydantic import ValidationError

    with pytest.raises(ValidationError) as info:
        DeploymentSpec.model_validate(spec_data(**changes))
    return str(info.value)


def test_a_full_azure_spec_validates() -> None:
    spec = DeploymentSpec.model_validate(spec_data())
    assert spec.instance_type() == "Standard_NC4as_T4_v3"
    assert live_traffic_percent(spec) == 100


def test_spot_is_refused_saying_where_spot_fits_on_azure() -> None:
    message = refused(compute__spot=True)
    assert "compute.spot" in message
    assert "no low-priority (spot) capacity" in message
    assert "batch scoring on a low-priority compute cluster" in message
    assert SPOT_MESSAGE in message


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"model__artifact": "s3://bucket/m.tar.gz"}, "model.artifact", "azureml://"),
        (
            {"targets__azure__instance_type": "Standard_NC6"},
            "targets.azure.instance_type",
            "has no nvidia-t4 GPU",
        ),
        (
            {"compute__accelerator": "none", "targets__azure__instance_type": "Standard_B2s"},
            "targets.azure.instance_type",
            "not a VM size",
        ),
        ({"compute__gpu_count": 2}, "compute.gpu_count", "has 1 GPU"),
        ({"region": "brazilsouth"}, "region", "not offered in 'brazilsouth'"),
        ({"targets__azure__image_uri": None}, "targets.azure.image_uri", "required"),
        (
            {"targets__azure__image_uri": "docker.io/library/python:3.11"},
            "targets.azure.image_uri",
            "azurecr.io",
        ),
        (
            {
                "targets__azure__image_registry_id": "/subscriptions/s/resourceGroups/r/"
                "providers/Microsoft.ContainerRegistry/registries/otherreg"
            },
            "targets.azure.image_uri",
            "not in the registry 'otherreg'",
        ),
        ({"targets__azure__traffic_percent": 90}, "targets.azure.traffic_percent", "10%"),
        (
            {"targets__azure__image_registry_id": None},
            "targets.azure.image_registry_id",
            "empty on the first deploy",
        ),
        ({"targets__azure__private": True}, "targets.azure.private", "private endpoint"),
        (
            {"gateway__rate_limit_rps": 0.5, "gateway__burst": 200},
            "gateway.burst",
            "300 s",
        ),
        (
            {
                "targets__azure__previous": {
                    "model_version": "1.0.0",
                    "image_uri": IMAGE,
                    "artifact": "azureml://subscriptions/s/resourcegroups/r/workspaces/other/"
                    "datastores/workspaceblobstore/paths/churn/1.0.0/",
                }
            },
            "targets.azure.previous.artifact",
            "workspace 'other'",
        ),
        (
            {
                "scaling__schedules": [
                    {"name": "night", "cron": "0 20 * * *", "min_replicas": 1, "max_replicas": 1}
                ]
            },
            "scaling.schedules",
            "recurrence",
        ),
        ({"targets__azure__apim_sku": "Developer"}, "targets.azure.apim_sku", "no SLA"),
        ({"targets__azure__apim_capacity": 2}, "targets.azure.apim_capacity", "one unit"),
        ({"observability__notify_emails": []}, "targets.azure.publisher_email", "publisher"),
        ({"scaling__min_replicas": 0}, "scaling.min_replicas", "cannot scale to zero"),
        ({"gateway__auth": "iam"}, "gateway.auth", "not supported on azure"),
        ({"targets__azure__request_timeout_ms": 180001}, "request_timeout_ms", "180000"),
        ({"targets__azure__mirror_percent": 60}, "mirror_percent", "50"),
        ({"observability__log_retention_days": 14}, "log_retention_days", "30 to 730"),
        ({"targets__azure__apim_sku": "Consumption"}, "apim_sku", "rate-limit-by-key"),
        (
            {
                "targets__azure__previous": {
                    "model_version": "1.0.0",
                    "image_uri": IMAGE,
                    "artifact": "b",
                    "instance_type": "Standard_DS3_v2",
                }
            },
            "previous.instance_type",
            "has no nvidia-t4 GPU",
        ),
    ],
)
def test_azure_limits_are_refused_naming_the_field(
    changes: dict[str, Any], field: str, words: str
) -> None:
    message = refused(**changes)
    assert field in message
    assert words in message


def previous() -> dict[str, Any]:
    return {
        "model_version": "1.0.0",
        "image_uri": "inferstackreg.azurecr.io/churn:1.0.0",
        "artifact": "azureml://registries/r/models/churn/versions/1",
    }


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("all_at_once", 100), ("canary", 10), ("linear", 20), ("blue_green", 0)],
)
def test_live_traffic_of_the_new_colour_follows_the_strategy(strategy: str, expected: int) -> None:
    spec = DeploymentSpec.model_validate(
        spec_data(rollout__strategy=strategy, targets__azure__previous=previous())
    )
    assert live_traffic_percent(spec) == expected


def test_mirror_traffic_needs_a_deployment_without_live_traffic() -> None:
    message = refused(
        targets__azure__previous=previous(),
        targets__azure__traffic_percent=10,
        targets__azure__mirror_percent=20,
    )
    assert "mirrors only to a deployment with no live traffic" in message
    spec = DeploymentSpec.model_validate(
        spec_data(
            targets__azure__previous=previous(),
            targets__azure__traffic_percent=0,
            targets__azure__mirror_percent=20,
        )
    )
    assert live_traffic_percent(spec) == 0


def test_mirror_without_a_previous_deployment_is_refused() -> None:
    assert "set previous" in refused(targets__azure__mirror_percent=10)


def test_an_existing_workspace_may_supply_the_registry_and_its_datastores() -> None:
    spec = DeploymentSpec.model_validate(
        spec_data(
            targets__azure__image_registry_id=None,
            targets__azure__workspace_id=WORKSPACE,
            model__artifact="azureml://subscriptions/S/resourceGroups/R/workspaces/Shared/"
            "datastores/workspaceblobstore/paths/churn/1.1.0/",
        )
    )
    assert spec.model.artifact.startswith("azureml://")
    DeploymentSpec.model_validate(
        spec_data(model__artifact="azureml://datastores/workspaceblobstore/paths/churn/1.1.0/")
    )


def test_workspace_id_must_be_a_workspace_resource_id() -> None:
    assert "workspace_id" in refused(targets__azure__workspace_id="/subscriptions/x/ws")


def test_every_gpu_size_is_in_a_gpu_family_and_sized() -> None:
    azure = profile("azure")
    for accelerator, instance_type in azure.instance_types.items():
        assert instance_type in AZURE_INSTANCE_SIZES
        if accelerator != "none":
            assert azure.is_gpu_instance(accelerator, instance_type)
            assert AZURE_INSTANCE_SIZES[instance_type].gpus >= 1


def test_quota_includes_the_upgrade_reserve() -> None:
    # 6 instances need 8 (6 x 1.2 rounded up) x 4 vCPUs of NCasT4_v3 quota.
    assert quota_vcpus("Standard_NC4as_T4_v3", 6) == 32


@pytest.mark.parametrize("rule", NAME_RULES, ids=lambda r: r.what)
def test_fit_makes_the_longest_names_fit(rule: Any) -> None:
    name = fit(rule, "x" + LONGEST_MODEL, LONGEST_STACK)
    assert not rule.problems(name), name
    assert fit(rule, "x" + LONGEST_MODEL, LONGEST_STACK) == name  # stable


@pytest.mark.parametrize("rule", [STORAGE_ACCOUNT, KEY_VAULT, CONTAINER_REGISTRY, ONLINE_ENDPOINT])
def test_global_names_fit_and_differ_per_stack(rule: Any) -> None:
    a = global_name(rule, "st", LONGEST_MODEL, "inferstack", LONGEST_STACK, LONGEST_MODEL)
    b = global_name(rule, "st", LONGEST_MODEL, "inferstack", "dev", LONGEST_MODEL)
    assert not rule.problems(a)
    assert not rule.problems(b)
    assert a != b


def test_name_rules_refuse_what_azure_refuses() -> None:
    assert STORAGE_ACCOUNT.problems("Has-Upper")
    assert KEY_VAULT.problems("kv--double")
    assert KEY_VAULT.problems("1starts-with-digit")
    assert ONLINE_ENDPOINT.problems("ends-with-")
    assert ONLINE_ENDPOINT.problems("e" * 33)
    assert CONTAINER_REGISTRY.problems("abcd")
    assert not ONLINE_ENDPOINT.problems("churn-7f3a9c1e")


def test_spec_errors_render_the_field() -> None:
    from pydantic import ValidationError

    try:
        DeploymentSpec.model_validate(spec_data(compute__spot=True))
    except ValidationError as err:
        rendered = str(SpecError.from_validation(err))
    assert "deployment.compute.spot: Azure ML managed online endpoints" in rendered


def test_package_exports_are_honest() -> None:
    import importlib

    import inferstack.components.azure as package

    for name in package.__all__:
        module = importlib.import_module(f"inferstack.components.azure.{package._COMPONENTS[name]}")
        assert getattr(package, name) is getattr(module, name)
