"""The GKE target's spec rules and names: each GKE limit refused before anything deploys."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from inferstack.components.gcp import gpus, naming
from inferstack.components.gcp.rules import node_zones
from inferstack.components.spec.models import DeploymentSpec

JWT = {"issuer": "https://issuer.example", "audience": "a"}
STABLE = "targets__gcp__stable_version"
AB = {"name": "challenger", "model_version": "1.0.0", "weight": 1}
CANARY = {"rollout__strategy": "canary", "rollout__auto_rollback": False}


def spec(**changes: Any) -> DeploymentSpec:
    data: dict[str, Any] = {
        "target": "gcp",
        "environment": "prod",
        "model": {"name": "churn", "version": "1.0.0", "framework": "sklearn", "artifact": "b"},
        "compute": {"accelerator": "nvidia-l4", "spot": True, "on_demand_base": 1},
        "scaling": {"min_replicas": 1, "max_replicas": 4},
        "targets": {"gcp": {"domain": "churn.example.com"}},
    }
    for dotted, value in changes.items():
        *path, last = dotted.split("__")
        node = data
        for key in path:
            node = node.setdefault(key, {})
        node[last] = value
    return DeploymentSpec.model_validate(data)


def refused(field: str, **changes: Any) -> str:
    with pytest.raises(ValidationError) as info:
        spec(**changes)
    message = str(info.value)
    assert field in message, message
    return message


def test_the_default_shape_passes() -> None:
    assert spec().instance_type() == "g2-standard-8"
    assert node_zones(spec()) == gpus.GPU_ZONES["us-central1"]["nvidia-l4"]


@pytest.mark.parametrize(
    ("accelerator", "machine"),
    [
        ("nvidia-l4", "a2-highgpu-1g"),
        ("nvidia-a100", "g2-standard-8"),
        ("nvidia-h100", "a2-highgpu-8g"),
        ("nvidia-t4", "g2-standard-8"),
    ],
)
def test_accelerator_needs_its_machine_family(accelerator: str, machine: str) -> None:
    refused(
        "targets.gcp.instance_type",
        compute__accelerator=accelerator,
        targets__gcp__instance_type=machine,
    )


def test_unknown_machine_of_the_right_family_is_refused() -> None:
    message = refused("targets.gcp.instance_type", targets__gcp__instance_type="g2-standard-2")
    assert "g2-standard-4" in message


def test_gpu_count_must_divide_the_machines_gpus() -> None:
    refused("compute.gpu_count", compute__gpu_count=2)  # g2-standard-8 has one L4
    ok = spec(compute__gpu_count=2, targets__gcp__instance_type="g2-standard-24")
    assert ok.compute.gpu_count == 2
    refused(
        "compute.gpu_count",
        compute__accelerator="nvidia-a100",
        compute__gpu_count=3,
        targets__gcp__instance_type="a2-highgpu-4g",
    )


def test_n1_takes_1_2_or_4_t4s_within_its_vcpu_ceiling() -> None:
    refused("compute.gpu_count", compute__accelerator="nvidia-t4", compute__gpu_count=3)
    refused(
        "targets.gcp.instance_type",
        compute__accelerator="nvidia-t4",
        compute__gpu_count=1,
        targets__gcp__instance_type="n1-standard-64",
    )
    assert spec(compute__accelerator="nvidia-t4", compute__gpu_count=4).compute.gpu_count == 4


def test_zone_without_the_gpu_is_refused() -> None:
    message = refused("targets.gcp.zones", targets__gcp__zones=["us-central1-f"])
    assert "us-central1-a" in message
    refused("compute.accelerator", region="us-east4", compute__accelerator="nvidia-a100")
    refused("region", region="antarctica-south1")


def test_spot_only_machine_cannot_back_the_on_demand_pool() -> None:
    message = refused(
        "targets.gcp.instance_type",
        compute__accelerator="nvidia-h100",
        targets__gcp__instance_type="a3-highgpu-1g",
    )
    assert "a3-highgpu-8g" in message
    assert spec(compute__accelerator="nvidia-h100").instance_type() == "a3-highgpu-8g"


def test_driver_must_run_the_runtime_images_cuda() -> None:
    refused("targets.gcp.gpu_driver_version", targets__gcp__gpu_driver_version="DEFAULT")
    refused("targets.gcp.gpu_driver_version", targets__gcp__gke_version="1.31")
    refused("targets.gcp.gke_version", targets__gcp__gke_version="1.29")
    # CPU deployments install no driver
    assert spec(compute__accelerator="none", targets__gcp__gke_version="1.29")


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("gateway.auth", {"gateway__auth": "jwt", "gateway__jwt": JWT}),
        ("gateway.auth", {"gateway__auth": "iam"}),
        ("gateway.quota_per_day", {"gateway__quota_per_day": 1000}),
        ("rollout.strategy", {"rollout__strategy": "linear"}),
        ("targets.gcp.stable_image", {**CANARY, STABLE: "0.9.0"}),
        ("rollout.auto_rollback", {"rollout__strategy": "canary"}),
        ("rollout.variants.0.name", {"rollout__variants": [{**AB, "name": "canary"}]}),
        ("rollout.variants.0.artifact", {"rollout__variants": [{**AB, "artifact": "gs://b/m"}]}),
        ("targets.gcp.image", {"model__artifact": "gs://bucket/model.tar.gz"}),
        ("targets.gcp.image", {"targets__gcp__image": "docker.io/library/python:3.11"}),
        ("targets.gcp.master_ipv4_cidr", {"targets__gcp__master_ipv4_cidr": "10.0.0.0/24"}),
    ],
)  # fmt: skip
def test_what_gke_does_not_provide_is_refused(field: str, changes: dict[str, Any]) -> None:
    refused(field, **changes)


def test_canary_with_its_stable_image_passes() -> None:
    image = "us-central1-docker.pkg.dev/my-project/models/churn:0.9.0"
    ok = spec(
        rollout__strategy="canary",
        rollout__auto_rollback=False,
        targets__gcp__stable_version="0.9.0",
        targets__gcp__stable_image=image,
    )
    assert ok.options.stable_image == image  # type: ignore[attr-defined]


@pytest.mark.parametrize("rule", naming.NAME_RULES, ids=lambda r: r.what)
def test_fit_makes_the_longest_names_fit(rule: naming.NameRule) -> None:
    longest_model = "m" + "x" * 39  # the spec's longest model name (40 characters)
    long_stack = "Feature_Branch.With-A-Very-Long-Name-For-Its-Stack-0123456789"
    name = naming.fit(rule, longest_model, long_stack, "spot", "abcdef")
    assert not rule.problems(name), (name, rule.problems(name))
    assert name == naming.fit(rule, longest_model, long_stack, "spot", "abcdef")
    assert name != naming.fit(rule, longest_model, long_stack, "ondemand", "abcdef")


def test_fit_keeps_names_that_already_fit() -> None:
    assert naming.fit(naming.CLUSTER, "churn", "prod") == "churn-prod"
    assert naming.SERVICE_ACCOUNT_ID.problems("abc")  # under 6


@pytest.mark.parametrize(
    ("accelerator", "machine", "count"),
    [
        ("nvidia-l4", "g2-standard-4", 1),
        ("nvidia-t4", "n1-standard-4", 1),
        ("nvidia-t4", "n1-highcpu-8", 1),
        ("nvidia-t4", "n1-highcpu-16", 1),
        ("none", "n2-standard-2", 1),
        ("none", "e2-highcpu-4", 1),
    ],
)
def test_a_machine_too_small_for_its_pods_is_refused(
    accelerator: str, machine: str, count: int
) -> None:
    message = refused(
        "targets.gcp.instance_type",
        compute__accelerator=accelerator,
        compute__gpu_count=count,
        targets__gcp__instance_type=machine,
    )
    assert "do not fit" in message


@pytest.mark.parametrize(
    ("accelerator", "machine"),
    [
        ("nvidia-l4", "g2-standard-8"),
        ("nvidia-t4", "n1-standard-8"),
        ("nvidia-a100", "a2-highgpu-8g"),
        ("nvidia-h100", "a3-highgpu-8g"),
        ("none", "n2-standard-4"),
    ],
)
def test_machines_that_hold_their_pods_pass(accelerator: str, machine: str) -> None:
    assert spec(compute__accelerator=accelerator, targets__gcp__instance_type=machine)


def test_an_unknown_machine_shape_is_refused() -> None:
    refused(
        "targets.gcp.instance_type",
        compute__accelerator="none",
        targets__gcp__instance_type="e2-medium",
    )


def test_allocatable_follows_gkes_reservations() -> None:
    cpu, memory = gpus.allocatable(4, 16)
    # 4 cores less 6% + 1% + 2 x 0.5%; 16 GiB less 25% of 4, 20% of 4, 10% of 8, 100 MiB.
    assert cpu == pytest.approx(4 - 0.08 - 0.5)
    assert memory == pytest.approx(16 - 2.6 - 0.1 - 1.0)


@pytest.mark.parametrize("field", ["scale_in_cooldown_s", "scale_out_cooldown_s"])
def test_a_cooldown_above_the_hpa_window_is_refused(field: str) -> None:
    refused(f"scaling.{field}", **{f"scaling__{field}": 3601})
    assert spec(**{f"scaling__{field}": 3600})


def test_log_retention_beyond_cloud_logging_is_refused() -> None:
    refused("observability.log_retention_days", observability__log_retention_days=3653)


def test_api_keys_over_plain_http_are_refused_outside_dev() -> None:
    refused("gateway.tls", gateway__auth="api_key", gateway__tls=False)
    assert spec(environment="dev", gateway__auth="api_key", gateway__tls=False)


def test_an_attached_cluster_outside_the_region_is_refused() -> None:
    where = {"domain": "churn.example.com", "cluster": "shared"}
    refused(
        "targets.gcp.cluster_location",
        targets__gcp={**where, "cluster_location": "europe-west4-a"},
    )
    assert spec(targets__gcp={**where, "cluster_location": "us-central1-a"})
    assert spec(targets__gcp={**where, "cluster_location": "us-central1"})
