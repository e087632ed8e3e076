"""Utilisation alarms at the spec's percent of the whole instance, read back from moto.

SageMaker sums CPUUtilization over vCPUs and GPUUtilization over GPUs, so the
alarms' thresholds are the spec's percent times the instance type's counts.
"""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.components.aws.common import SAGEMAKER_NAMESPACE
from inferstack.components.aws.endpoint import AwsEndpointOptions, validate
from inferstack.components.errors import SpecError

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
    compute["instance_type"] = {"aws": "ml.g5.12xlarge"}  # 48 vCPUs, 4 GPUs
    spec = spec_for({**LEAN, "compute": compute, "observability": {"alarms": LIMITS}})
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


def test_an_instance_type_without_known_counts_is_refused(spec_for) -> None:
    spec = spec_for({"compute": {"accelerator": "none", "instance_type": {"aws": "ml.r7i.large"}}})
    with pytest.raises(SpecError) as err:
        validate(spec, AwsEndpointOptions())
    (problem,) = err.value.problems
    assert problem.startswith("deployment.compute.instance_type.aws:")
    assert "'ml.r7i.large'" in problem
    assert "ml.c6i.xlarge" in problem
    assert "ml.p5.48xlarge" in problem


def test_a_serverless_endpoint_needs_no_instance_counts(spec_for) -> None:
    aws = {"mode": "serverless"}
    spec = spec_for(
        {
            "compute": {
                "accelerator": "none",
                "instance_type": {"aws": "ml.r7i.large"},
                "aws": aws,
            },
            "rollout": {"strategy": "all_at_once"},
            "observability": {"data_capture_percent": 0},
        }
    )
    validate(spec, AwsEndpointOptions())
