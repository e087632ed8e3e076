"""The deployment spec: defaults, field rules and the cross-field target rules."""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.components import DeploymentSpec, SpecError, load_spec


def base(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "target": "aws",
        "environment": "dev",
        "model": {
            "name": "churn",
            "version": "1.0.0",
            "framework": "sklearn",
            "artifact": "examples/bundle",
        },
    }
    for dotted, value in overrides.items():
        node = spec
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return spec


def problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        load_spec(data)
    return list(caught.value.problems)


def test_defaults_are_secure_and_minimal() -> None:
    spec = load_spec(base())
    assert spec.gateway.auth == "api_key"
    assert spec.gateway.tls is True
    assert (spec.scaling.min_replicas, spec.scaling.max_replicas) == (1, 1)
    assert spec.compute.accelerator == "none"
    assert spec.resolved_region == "us-east-1"
    assert spec.instance_type() == "ml.c6i.xlarge"


def test_spec_is_frozen() -> None:
    spec = load_spec(base())
    with pytest.raises(ValueError, match="frozen"):
        spec.environment = "prod"  # type: ignore[misc]


def test_gpu_kind_maps_to_the_targets_instance_type() -> None:
    assert load_spec(base(compute__accelerator="nvidia-a10g")).instance_type() == "ml.g5.xlarge"
    gcp = load_spec(base(target="gcp", compute__accelerator="nvidia-l4"))
    assert gcp.instance_type() == "g2-standard-8"


def test_instance_type_override_wins() -> None:
    spec = load_spec(
        base(compute__accelerator="nvidia-a10g", targets__aws__instance_type="ml.g5.2xlarge")
    )
    assert spec.instance_type() == "ml.g5.2xlarge"


@pytest.mark.parametrize(
    ("overrides", "field", "hint"),
    [
        ({"unknown_key": 1}, "deployment.unknown_key", "unknown key"),
        ({"model__extra": 1}, "deployment.model.extra", "unknown key"),
        ({"target": "heroku"}, "deployment.target", "use one of local, aws, azure, gcp"),
        ({"environment": "qa"}, "deployment.environment", "'dev', 'staging' or 'prod'"),
        ({"model__framework": "caffe"}, "deployment.model.framework", "'sklearn'"),
        ({"model__version": "v1"}, "deployment.model.version", "pattern"),
        ({"model__name": "Churn Model"}, "deployment.model.name", "pattern"),
        ({"model__artifact": "ftp://x/y"}, "deployment.model.artifact", "unsupported scheme"),
        ({"compute__accelerator": "nvidia-x1"}, "deployment.compute.accelerator", "'nvidia-t4'"),
        (
            {"scaling__min_replicas": 3, "scaling__max_replicas": 2},
            "deployment.scaling",
            "min_replicas (3) is greater than max_replicas (2)",
        ),
        ({"scaling__max_replicas": 0}, "deployment.scaling.max_replicas", "greater than or equal"),
        (
            {"gateway__allowed_cidrs": ["10.0.0.0/33"]},
            "deployment.gateway.allowed_cidrs",
            "not a CIDR",
        ),
        ({"gateway__auth": "jwt"}, "deployment.gateway", "gateway.jwt (issuer, audience)"),
        ({"gateway__burst": 5}, "deployment.gateway", "burst (5) must be at least"),
        (
            {"observability__log_retention_days": 10},
            "deployment.observability.log_retention_days",
            "use one of 1, 3, 5",
        ),
        (
            {"observability__notify_emails": ["oncall"]},
            "deployment.observability.notify_emails",
            "not an e-mail",
        ),
        ({"rollout__strategy": "yolo"}, "deployment.rollout.strategy", "'canary'"),
        (
            {
                "rollout__primary_weight": 0,
                "rollout__variants": [{"name": "b", "model_version": "1.1.0", "weight": 0}],
            },
            "deployment.rollout",
            "must sum to > 0",
        ),
        (
            {
                "scaling__schedules": [
                    {"name": "night", "cron": "0 20 * *", "min_replicas": 0, "max_replicas": 1}
                ]
            },
            "deployment.scaling.schedules.0.cron",
            "expected 5 cron fields",
        ),
    ],
)
def test_field_rules_name_the_field(overrides: dict[str, Any], field: str, hint: str) -> None:
    found = problems(base(**overrides))
    assert any(p.startswith(f"{field}:") and hint in p for p in found), found


@pytest.mark.parametrize(
    ("overrides", "field", "hint"),
    [
        (
            {"target": "azure", "compute__accelerator": "nvidia-l4"},
            "deployment.compute.accelerator",
            "not available on azure",
        ),
        (
            {
                "compute__accelerator": "nvidia-a10g",
                "targets__aws__instance_type": "ml.m5.large",
            },
            "deployment.targets.aws.instance_type",
            "has no nvidia-a10g GPU",
        ),
        (
            {"targets__aws__instance_type": "ml.g5.xlarge"},
            "deployment.targets.aws.instance_type",
            "set compute.accelerator: nvidia-a10g",
        ),
        (
            {"target": "azure", "compute__spot": True},
            "deployment.compute.spot",
            "no low-priority (spot) capacity",
        ),
        ({"target": "local", "compute__spot": True}, "deployment.compute.spot", "no spot capacity"),
        (  # on aws, spot selects the EC2 instance group unless a SageMaker mode is set
            {"compute__spot": True, "targets__aws__mode": "realtime"},
            "deployment.compute.spot",
            "SageMaker has no spot capacity",
        ),
        (
            {"compute__spot": True},
            "deployment.compute.accelerator",
            "the instance group runs GPU instances",
        ),
        ({"gateway__tls": False}, "deployment.gateway.tls", "API Gateway serves HTTPS only"),
        ({"target": "local"}, "deployment.gateway.tls", "serves plain HTTP on 127.0.0.1"),
        (
            {"target": "local", "gateway__tls": False, "gateway__rate_limit_rps": 5},
            "deployment.gateway.rate_limit_rps",
            "not enforced by the local target",
        ),
        (
            {"targets__local__port": 18080},
            "deployment.targets.local",
            "only the local target reads",
        ),
        (
            {"target": "local", "gateway__tls": False, "targets__local__grafana_port": 8080},
            "deployment.targets.local",
            "must differ, got [8080, 9090, 8080]",
        ),
        (
            {"target": "local", "gateway__tls": False, "targets__local__port": 80},
            "deployment.targets.local.port",
            "greater than or equal to 1024",
        ),
        (
            {"target": "gcp", "compute__spot": True, "compute__on_demand_base": 3},
            "deployment.compute.on_demand_base",
            "exceeds scaling.max_replicas",
        ),
        (
            {"target": "gcp", "scaling__min_replicas": 0},
            "deployment.scaling.min_replicas",
            "cannot scale to zero",
        ),
        (
            {"target": "local", "scaling__max_replicas": 3},
            "deployment.scaling.max_replicas",
            "fixed number of replicas",
        ),
        (
            {"scaling__target_metric": "gpu_utilization"},
            "deployment.scaling.target_metric",
            "needs compute.accelerator",
        ),
        (
            {"target": "local", "gateway__auth": "iam"},
            "deployment.gateway.auth",
            "not supported on local",
        ),
        (
            {"environment": "prod", "gateway__auth": "none"},
            "deployment.gateway.auth",
            "'none' is not allowed in prod",
        ),
        (
            {"environment": "prod", "gateway__tls": False},
            "deployment.gateway.tls",
            "cannot be turned off in prod",
        ),
        (
            {"rollout__variants": [{"name": "churn", "model_version": "1.1.0", "weight": 1}]},
            "deployment.rollout.variants",
            "may not reuse the model's name",
        ),
        (
            {
                "rollout__strategy": "canary",
                "rollout__variants": [{"name": "b", "model_version": "1.1.0", "weight": 1}],
            },
            "deployment.rollout.strategy",
            "cannot be combined with A/B variants",
        ),
        (
            {
                "scaling__max_replicas": 2,
                "scaling__schedules": [
                    {"name": "peak", "cron": "0 8 * * *", "min_replicas": 1, "max_replicas": 4}
                ],
            },
            "deployment.scaling.schedules.0.max_replicas",
            "exceeds scaling.max_replicas",
        ),
    ],
)
def test_target_rules_name_the_field(overrides: dict[str, Any], field: str, hint: str) -> None:
    found = problems(base(**overrides))
    assert found == [f"{field}: {found[0].split(': ', 1)[1]}"], found
    assert hint in found[0]


def test_auth_none_is_fine_outside_prod() -> None:
    assert load_spec(base(gateway__auth="none")).gateway.auth == "none"


def test_scale_to_zero_where_the_target_allows_it() -> None:
    spec = load_spec(
        base(scaling__min_replicas=0, scaling__max_replicas=2, targets__aws={"mode": "async"})
    )
    assert spec.scaling.min_replicas == 0


def test_every_problem_is_reported_once_per_line() -> None:
    found = problems(base(target="heroku", environment="qa"))
    assert len(found) == 2
    assert all("\n" not in p for p in found)


def test_non_mapping_config_is_refused() -> None:
    assert problems(["not", "a", "mapping"]) == [  # type: ignore[arg-type]
        "deployment: expected a mapping of settings, got list"
    ]


def test_spec_builds_in_code() -> None:
    spec = DeploymentSpec.model_validate(base(target="local", gateway__tls=False))
    assert spec.target == "local"
