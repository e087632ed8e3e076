"""Utilisation and drift alarms, read back from moto.

SageMaker sums CPUUtilization over vCPUs and GPUUtilization over GPUs, so the
alarms' thresholds are the spec's percent times the instance type's counts. The
drift alarm watches the metric the runtime prints as CloudWatch EMF lines.
"""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.components.aws.common import SAGEMAKER_NAMESPACE
from inferstack.components.aws.endpoint import AwsEndpointOptions, validate
from inferstack.components.errors import SpecError
from inferstack.components.spec.config import load_spec
from inferstack.runtime.emf import DRIFT_METRIC, NAMESPACE
from inferstack.runtime.settings import RuntimeSettings
from tests.components.aws.conftest import merge, prod_spec_data

LEAN = {"scaling": {"schedules": []}, "gateway": {"waf": False}}
LIMITS = {
    "cpu_utilization_percent": 80,
    "gpu_utilization_percent": 75,
    "memory_utilization_percent": 70,
}


def _alarms(deployed: Any, endpoint: str) -> dict[str, dict[str, Any]]:
    found = deployed.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{endpoint}-")
    return {a["AlarmName"].removeprefix(f"{endpoint}-"): a for a in found["MetricAlarms"]}


@pytest.fixture(scope="module")
def cpu(deploy, spec_for):
    spec = spec_for(
        {**LEAN, "compute": {"accelerator": "none"}, "observability": {"alarms": LIMITS}}
    )
    return _alarms(deploy(spec, name="cpu"), "cpu-test")


@pytest.fixture(scope="module")
def gpu(deploy, spec_for):
    compute = {"accelerator": "nvidia-a10g", "gpu_count": 4}
    targets = {"aws": {"instance_type": "ml.g5.12xlarge"}}  # 48 vCPUs, 4 GPUs
    changes = {"compute": compute, "targets": targets, "observability": {"alarms": LIMITS}}
    spec = spec_for({**LEAN, **changes})
    return _alarms(deploy(spec, name="gpu"), "gpu-test")


def test_cpu_alarm_fires_at_the_spec_percent_of_all_vcpus(cpu) -> None:
    alarm = cpu["primary-cpu"]  # ml.c6i.xlarge: 4 vCPUs
    assert (alarm["Namespace"], alarm["MetricName"]) == (SAGEMAKER_NAMESPACE, "CPUUtilization")
    assert alarm["Threshold"] == 80 * 4
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert "80% of 4 vCPUs" in alarm["AlarmDescription"]
    assert "primary-gpu" not in cpu


def test_memory_alarm_is_already_a_percent(cpu, gpu) -> None:
    assert cpu["primary-memory"]["Threshold"] == 70
    assert gpu["primary-memory"]["Threshold"] == 70


def test_gpu_and_cpu_alarms_scale_by_the_instance_types_counts(gpu) -> None:
    assert gpu["primary-gpu"]["MetricName"] == "GPUUtilization"
    assert gpu["primary-gpu"]["Threshold"] == 75 * 4
    assert "75% of 4 GPUs" in gpu["primary-gpu"]["AlarmDescription"]
    assert gpu["primary-cpu"]["Threshold"] == 80 * 48


def test_an_instance_type_without_known_counts_is_refused(bundle) -> None:
    changes = {
        "compute": {"accelerator": "none"},
        "targets": {"aws": {"instance_type": "ml.r7i.large"}},
    }
    with pytest.raises(SpecError) as err:
        load_spec(merge(prod_spec_data(bundle), changes))
    (problem,) = err.value.problems
    assert problem.startswith("deployment.targets.aws.instance_type:")
    assert "'ml.r7i.large'" in problem
    assert "ml.c6i.xlarge" in problem
    assert "ml.p5.48xlarge" in problem


def test_a_serverless_endpoint_needs_no_instance_counts(spec_for) -> None:
    spec = spec_for(
        {
            "compute": {"accelerator": "none"},
            "targets": {"aws": {"mode": "serverless", "instance_type": "ml.r7i.large"}},
            "rollout": {"strategy": "all_at_once"},
            "observability": {"data_capture_percent": 0},
        }
    )
    validate(spec, AwsEndpointOptions())


def test_drift_alarm_watches_the_runtimes_emf_metric_per_variant(cpu) -> None:
    alarm = cpu["primary-drift"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (NAMESPACE, DRIFT_METRIC)
    assert alarm["Statistic"] == "Maximum"
    assert alarm["Threshold"] == 0.2  # the spec's default drift_score
    dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    assert dims == {"EndpointName": "cpu-test", "VariantName": "primary"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_drift_alarm_is_not_a_rollback_alarm(deploy, spec_for) -> None:
    spec = spec_for({**LEAN, "observability": {"alarms": {"drift_score": 0.3}}})
    deployed = deploy(spec, name="drift")
    drift = _alarms(deployed, "drift-test")["primary-drift"]
    assert drift["Threshold"] == 0.3
    (endpoint,) = deployed.endpoints()
    rollback = endpoint["deployment_config"]["AutoRollbackConfiguration"]["Alarms"]
    assert "drift-test-primary-drift" not in {a["AlarmName"] for a in rollback}
    assert "drift-test-primary-5xx-rate" in {a["AlarmName"] for a in rollback}


def test_containers_print_drift_for_their_endpoint_and_variant(
    deploy, spec_for, monkeypatch: pytest.MonkeyPatch
) -> None:
    deployed = deploy(spec_for(LEAN), name="env")
    sagemaker = deployed.client("sagemaker")
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName="env-test")[
            "EndpointConfigName"
        ]
    )
    (variant,) = config["ProductionVariants"]
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    for key, value in model["PrimaryContainer"]["Environment"].items():
        monkeypatch.setenv(key, value)
    settings = RuntimeSettings()  # as the runtime reads its container's environment
    assert settings.cloudwatch_emf
    assert (settings.endpoint_name, settings.variant) == ("env-test", "primary")


def _tracking_targets(deployed: Any, endpoint: str) -> dict[str, float]:
    policies = deployed.client("application-autoscaling").describe_scaling_policies(
        ServiceNamespace="sagemaker"
    )["ScalingPolicies"]
    return {
        p["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"][
            "MetricName"
        ]: p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]
        for p in policies
        if p["ResourceId"].startswith(f"endpoint/{endpoint}/")
    }


@pytest.mark.parametrize(
    ("changes", "metric", "expected"),
    [
        ({"compute": {"accelerator": "none"}}, "cpu_utilization", {"CPUUtilization": 60 * 4}),
        (
            {
                "compute": {"accelerator": "nvidia-a10g", "gpu_count": 4},
                "targets": {"aws": {"instance_type": "ml.g5.12xlarge"}},
            },
            "gpu_utilization",
            {"GPUUtilization": 60 * 4},
        ),
    ],
)
def test_target_tracking_holds_the_spec_percent_of_the_whole_instance(
    deploy, spec_for, changes: dict[str, Any], metric: str, expected: dict[str, float]
) -> None:
    scaling = {"schedules": [], "target_metric": metric, "target_value": 60}
    spec = spec_for({**LEAN, **changes, "scaling": scaling})
    name = f"track-{metric.split('_')[0]}"
    assert _tracking_targets(deploy(spec, name=name), f"{name}-test") == expected
