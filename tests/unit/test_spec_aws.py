"""The AWS spec fields and rules, and the AWS target's plain decision functions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from inferstack.components import SpecError, load_spec
from inferstack.components.aws.autoscaling import aws_cron, tracking_configuration
from inferstack.components.aws.common import Names, physical_name
from inferstack.components.aws.registry import ecr_repository_arn
from inferstack.components.aws.sagemaker import deployment_config, volume_kms_allowed

BASE: dict[str, Any] = {
    "target": "aws",
    "environment": "prod",
    "model": {
        "name": "churn",
        "version": "1.0.0",
        "framework": "sklearn",
        "artifact": "s3://models/churn/1.0.0/model.tar.gz",
    },
    "compute": {"accelerator": "nvidia-a10g"},
    "scaling": {"min_replicas": 2, "max_replicas": 4},
}


def spec_data(**changes: Any) -> dict[str, Any]:
    """BASE with `a__b=value` changes."""
    data = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, leaf = path.split("__")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return data


def refused(**changes: Any) -> str:
    with pytest.raises(SpecError) as err:
        load_spec(spec_data(**changes))
    return str(err.value)


def test_prod_gpu_spec_is_accepted() -> None:
    spec = load_spec(spec_data())
    assert spec.instance_type() == "ml.g5.xlarge"
    assert spec.options.mode == "realtime"


@pytest.mark.parametrize(
    ("changes", "field", "hint"),
    [
        (
            {"targets__aws__instance_type": "ml.c6i.xlarge"},
            "deployment.targets.aws.instance_type",
            "has no nvidia-a10g GPU",
        ),
        ({"scaling__min_replicas": 5}, "deployment.scaling", "greater than max_replicas"),
        (
            {
                "rollout": {
                    "strategy": "blue_green",
                    "primary_weight": 0,
                    "variants": [{"name": "b", "model_version": "1.1.0", "weight": 0}],
                }
            },
            "deployment.rollout",
            "must sum to > 0",
        ),
        (
            {"model__artifact": "gs://bucket/model.tar.gz"},
            "deployment.model.artifact",
            "s3:// only",
        ),
        ({"scaling__min_replicas": 0}, "deployment.scaling.min_replicas", "cannot scale to zero"),
        ({"targets__aws": {"mode": "serverless"}}, "deployment.compute.accelerator", "no GPU"),
        (
            {
                "compute__accelerator": "none",
                "targets__aws": {"mode": "serverless"},
                "observability": {"data_capture_percent": 5},
            },
            "deployment.observability.data_capture_percent",
            "do not capture",
        ),
        (
            {
                "compute__accelerator": "none",
                "targets__aws": {"mode": "serverless"},
                "rollout": {"strategy": "canary"},
            },
            "deployment.rollout.strategy",
            "all at once",
        ),
        (
            {"targets__aws": {"subnet_ids": ["subnet-1"]}},
            "deployment.targets.aws.subnet_ids",
            "together",
        ),
        (
            {"targets__aws": {"serverless_memory_mb": 1000}},
            "deployment.targets.aws.serverless_memory_mb",
            "",
        ),
        (
            {
                "gateway": {
                    "auth": "jwt",
                    "jwt": {"issuer": "https://login.example.com", "audience": "x"},
                }
            },
            "deployment.gateway.jwt.issuer",
            "Cognito",
        ),
        ({"gateway__auth": "none"}, "deployment.gateway.auth", "not allowed in prod"),
    ],
)
def test_broken_aws_specs_are_refused_naming_the_field(
    changes: dict[str, Any], field: str, hint: str
) -> None:
    message = refused(**changes)
    assert field in message
    assert hint in message


def test_async_and_cognito_jwt_are_accepted() -> None:
    spec = load_spec(
        spec_data(
            targets__aws={"mode": "async"},
            scaling__min_replicas=0,
            gateway={
                "auth": "jwt",
                "jwt": {
                    "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC12",
                    "audience": "client",
                },
            },
        )
    )
    assert spec.scaling.min_replicas == 0


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 20 * * 1-5", "cron(0 20 ? * MON-FRI *)"),
        ("30 7 * * 0,6", "cron(30 7 ? * SUN,SAT *)"),
        ("0 0 1 * *", "cron(0 0 1 * ? *)"),
        ("*/15 * * * *", "cron(*/15 * * * ? *)"),
    ],
)
def test_cron_becomes_aws_cron(cron: str, expected: str) -> None:
    assert aws_cron(cron) == expected


def test_cron_with_day_and_weekday_is_refused() -> None:
    with pytest.raises(ValueError, match="day of month and day of week"):
        aws_cron("0 0 1 * 1")


def test_gpu_instances_with_local_storage_take_no_volume_key() -> None:
    assert not volume_kms_allowed("ml.g5.xlarge")
    assert not volume_kms_allowed("ml.p4d.24xlarge")
    assert volume_kms_allowed("ml.c6i.xlarge")


@pytest.mark.parametrize(
    ("strategy", "routing_type"),
    [
        ("all_at_once", "ALL_AT_ONCE"),
        ("blue_green", "ALL_AT_ONCE"),
        ("canary", "CANARY"),
        ("linear", "LINEAR"),
    ],
)
def test_rollout_strategies(strategy: str, routing_type: str) -> None:
    spec = load_spec(spec_data(rollout={"strategy": strategy, "bake_time_s": 300}))
    config = deployment_config(spec, ["a", "b"])
    assert config is not None
    policy = config["BlueGreenUpdatePolicy"]  # UpdateEndpoint's shape (botocore's names)
    assert policy["TrafficRoutingConfiguration"]["Type"] == routing_type
    assert 600 <= policy["MaximumExecutionTimeoutInSeconds"] <= 28800
    assert config["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": "a"},
        {"AlarmName": "b"},
    ]
    bake = policy["TrafficRoutingConfiguration"]["WaitIntervalInSeconds"]
    assert bake == (0 if strategy == "all_at_once" else 300)


def test_no_rollback_alarms_when_auto_rollback_is_off() -> None:
    spec = load_spec(spec_data(rollout={"strategy": "canary", "auto_rollback": False}))
    assert "AutoRollbackConfiguration" not in (deployment_config(spec, ["a"]) or {})


def test_gpu_target_is_per_gpu() -> None:
    spec = load_spec(
        spec_data(
            compute={"accelerator": "nvidia-a10g"},
            targets={"aws": {"instance_type": "ml.g5.12xlarge"}},
            scaling={
                "min_replicas": 1,
                "max_replicas": 2,
                "target_metric": "gpu_utilization",
                "target_value": 60,
            },
        )
    )
    config = tracking_configuration(spec, "ep", "primary")
    assert config["target_value"] == 240
    assert config["customized_metric_specification"]["metric_name"] == "GPUUtilization"


def test_long_names_are_shortened_stably() -> None:
    name = physical_name("a" * 40, "production-stack-with-a-long-name")
    assert len(name) == 63
    assert name == physical_name("a" * 40, "production-stack-with-a-long-name")
    names = Names(endpoint="ep", variants=("primary",), api="ep", stage="prod")
    assert names.alarm("5xx-rate", "primary") == "ep-primary-5xx-rate"


def test_image_uri_must_be_ecr() -> None:
    arn = ecr_repository_arn("123456789012.dkr.ecr.us-east-1.amazonaws.com/team/rt:1.0", "aws")
    assert arn == "arn:aws:ecr:us-east-1:123456789012:repository/team/rt"
    with pytest.raises(ValueError, match="not an ECR image"):
        ecr_repository_arn("docker.io/library/python:3.11", "aws")


def test_an_explicit_gpu_count_must_match_the_instance_type() -> None:
    message = refused(compute__gpu_count=4)
    assert "deployment.compute.gpu_count: 4 does not match ml.g5.xlarge, which has 1 GPU" in message
    spec = load_spec(spec_data(compute__gpu_count=4, targets__aws__instance_type="ml.g5.12xlarge"))
    assert spec.compute.gpu_count == 4


def test_serverless_provisioned_concurrency_above_the_maximum_is_refused() -> None:
    serverless = {
        "compute__accelerator": "none",
        "targets__aws__mode": "serverless",
        "targets__aws__serverless_max_concurrency": 5,
    }
    message = refused(**serverless, targets__aws__serverless_provisioned_concurrency=6)
    assert "targets.aws.serverless_provisioned_concurrency" in message
    assert "serverless_max_concurrency (5)" in message
    spec = load_spec(spec_data(**serverless, targets__aws__serverless_provisioned_concurrency=5))
    assert spec.options.serverless_provisioned_concurrency == 5


@pytest.mark.parametrize("max_replicas", [0, 2])
def test_a_realtime_window_without_instances_is_refused(max_replicas: int) -> None:
    # max_replicas 0 forces min_replicas 0 (min <= max), so min_replicas is the one named.
    window = {"name": "nights", "cron": "0 20 * * *", "min_replicas": 0}
    message = refused(scaling__schedules=[{**window, "max_replicas": max_replicas}])
    assert "scaling.schedules.0.min_replicas" in message
    assert "at least one instance" in message
    # Async endpoints scale to zero, in a window too.
    load_spec(
        spec_data(
            targets__aws__mode="async",
            scaling__min_replicas=0,
            scaling__schedules=[{**window, "max_replicas": 2}],
        )
    )


@pytest.mark.parametrize(
    ("percent", "fleet", "instances"),
    [(10, 2, 1), (10, 10, 1), (25, 10, 3), (50, 3, 2), (10, 1, 1), (50, 2, 1)],
)
def test_steps_are_whole_instances(percent: float, fleet: int, instances: int) -> None:
    from inferstack.components.aws.limits import step_instances

    assert step_instances(percent, fleet) == instances


def test_the_real_canary_share_is_said() -> None:
    from inferstack.components.aws.limits import rollout_share_note

    canary = {"rollout__strategy": "canary", "rollout__canary_percent": 10}
    note = rollout_share_note(load_spec(spec_data(**canary)))  # 2 instances
    assert note is not None
    assert "10% canary step on 2 instance(s) is 1 whole instance(s)" in note
    assert "50% of the traffic" in note
    many = spec_data(**canary, scaling__min_replicas=10, scaling__max_replicas=10)
    assert rollout_share_note(load_spec(many)) is None
    assert rollout_share_note(load_spec(spec_data(rollout__strategy="blue_green"))) is None


def test_an_s3_artifact_needs_an_image() -> None:
    from inferstack.components.aws.endpoint import AwsEndpointOptions, validate

    spec = load_spec(spec_data())  # BASE serves an s3:// archive
    with pytest.raises(SpecError) as err:
        validate(spec, AwsEndpointOptions())
    assert "deployment.targets.aws.image_uri" in str(err.value)
    assert "primary" in str(err.value)
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/runtime:1.0.0-gpu"
    validate(load_spec(spec_data(targets__aws__image_uri=image)), AwsEndpointOptions())
    validate(spec, AwsEndpointOptions(image_uri=image))
    with pytest.raises(SpecError) as err:
        validate(load_spec(spec_data(targets__aws__image_uri="python:3.11")), AwsEndpointOptions())
    assert "deployment.targets.aws.image_uri" in str(err.value)


def test_the_lifecycle_expires_only_untagged_images() -> None:
    from inferstack.components.aws.registry import lifecycle_policy

    (rule,) = lifecycle_policy()["rules"]  # type: ignore[misc]
    assert rule["selection"]["tagStatus"] == "untagged"
    assert rule["action"] == {"type": "expire"}
