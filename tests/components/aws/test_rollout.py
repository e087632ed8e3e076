"""The endpoint's update path: rollout limits, GPU host images, and the endpoint provider.

The provider (aws/endpoint_provider.py) runs against moto through boto3. moto has no
UpdateEndpoint and its endpoints are always InService, so `Script` answers those two
calls with the states a real rollout goes through; every other call (configs, models,
alarms, autoscaling, tags, deletes) is moto's.
"""

from __future__ import annotations

import contextlib
import pickle
from collections.abc import Iterator
from typing import Any
from unittest import mock

import boto3
import botocore.client
import pytest

from inferstack.components import SpecError, load_spec
from inferstack.components.aws.endpoint_provider import (
    EndpointUpdateError,
    SageMakerEndpointProvider,
)
from inferstack.components.aws.rules import MAX_ROLLOUT_S
from inferstack.components.aws.sagemaker import deployment_config
from tests.components.aws.conftest import REGION, merge, prod_spec_data

ROLE = "arn:aws:iam::123456789012:role/sm"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1"
ALARM = "ep-primary-5xx-rate"


def _spec(bundle, changes: dict[str, Any]):  # type: ignore[no-untyped-def]
    return load_spec(merge(prod_spec_data(bundle), changes))


# -- item 4: what a rollout needs, refused before anything deploys -----------------------


def test_a_long_linear_rollout_fits_sagemakers_limit_not_the_bridges(bundle) -> None:
    # 10 steps of 10% with a 30-minute bake: 23400s, past pulumi-aws's 14400 but within
    # SageMaker's 28800 (the endpoint provider sends it as is).
    spec = _spec(
        bundle, {"rollout": {"strategy": "linear", "linear_step_percent": 10, "bake_time_s": 1800}}
    )
    config = deployment_config(spec, ["a"])
    assert config is not None
    timeout = config["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"]
    assert 14400 < timeout <= MAX_ROLLOUT_S
    assert timeout >= 11 * 1800  # every step's bake and the termination wait


@pytest.mark.parametrize(
    ("rollout", "fields"),
    [
        (
            {"strategy": "linear", "linear_step_percent": 10, "bake_time_s": 3600},
            ("rollout.bake_time_s", "rollout.linear_step_percent"),
        ),
        (
            {"strategy": "linear", "linear_step_percent": 10, "bake_time_s": 2500},
            ("rollout.bake_time_s", "rollout.linear_step_percent"),
        ),
    ],
)
def test_a_rollout_longer_than_sagemaker_allows_is_refused(bundle, rollout, fields) -> None:
    with pytest.raises(SpecError) as err:
        _spec(bundle, {"rollout": rollout})
    message = str(err.value)
    for field in fields:
        assert field in message
    assert str(MAX_ROLLOUT_S) in message


@pytest.mark.parametrize(
    "rollout",
    [
        {"strategy": "canary", "bake_time_s": 3600},
        {"strategy": "blue_green", "bake_time_s": 3600},
        {"strategy": "linear", "linear_step_percent": 20, "bake_time_s": 3600},
    ],
)
def test_the_longest_bakes_that_fit_are_accepted(bundle, rollout) -> None:
    config = deployment_config(_spec(bundle, {"rollout": rollout}), ["a"])
    assert config is not None
    assert config["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"] <= MAX_ROLLOUT_S


# -- item 7: the GPU host's driver must run the image's CUDA ----------------------------


def test_gpu_variants_run_on_a_host_image_with_a_new_enough_driver(deploy, spec_for) -> None:
    deployed = deploy(spec_for(), name="gpu")
    (config,) = deployed.mocks.inputs["aws:sagemaker/endpointConfiguration:EndpointConfiguration"]
    (variant,) = config["productionVariants"]
    # CUDA 12.6 image: SageMaker's default for ml.g5 is driver 470 (CUDA 11.4).
    assert variant["inferenceAmiVersion"] == "al2023-ami-sagemaker-inference-gpu-4-1"


def test_cpu_variants_name_no_host_image(deploy, spec_for) -> None:
    deployed = deploy(spec_for({"compute": {"accelerator": "none"}}), name="cpuami")
    (config,) = deployed.mocks.inputs["aws:sagemaker/endpointConfiguration:EndpointConfiguration"]
    assert "inferenceAmiVersion" not in config["productionVariants"][0]


@pytest.mark.parametrize(
    ("changes", "field", "why"),
    [
        (
            {"targets": {"aws": {"inference_ami_version": "al2-ami-sagemaker-inference-gpu-2"}}},
            "targets.aws.inference_ami_version",
            "CUDA 12.2",
        ),
        (
            {"targets": {"aws": {"inference_ami_version": "al2-ami-sagemaker-inference-gpu-3-1"}}},
            "targets.aws.inference_ami_version",
            "CUDA 12.4",
        ),
        (
            {"targets": {"aws": {"inference_ami_version": "al2-ami-sagemaker-inference-neuron-2"}}},
            "targets.aws.inference_ami_version",
            "not a SageMaker GPU host image",
        ),
        (
            {
                "compute": {"accelerator": "none"},
                "targets": {
                    "aws": {"inference_ami_version": "al2023-ami-sagemaker-inference-gpu-4-1"}
                },
            },
            "targets.aws.inference_ami_version",
            "needs a GPU instance",
        ),
    ],
)
def test_a_host_image_the_image_cannot_run_on_is_refused(bundle, changes, field, why) -> None:
    with pytest.raises(SpecError) as err:
        _spec(bundle, changes)
    assert field in str(err.value)
    assert why in str(err.value)


# -- items 5 and 6: the endpoint provider against moto ----------------------------------


class Script:
    """Answers UpdateEndpoint and DescribeEndpoint with the states a test lays out."""

    def __init__(self, states: list[tuple[str, str]]) -> None:
        self.states = list(states)  # (EndpointStatus, EndpointConfigName), in order
        self.updates: list[dict[str, Any]] = []
        self.on_update: Any = None
        self._real = botocore.client.BaseClient._make_api_call

    def __call__(self, client: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "UpdateEndpoint":
            self.updates.append(params)
            if self.on_update:
                self.on_update()
            return {"EndpointArn": "arn"}
        if operation == "DescribeEndpoint" and self.states:
            status, config = self.states.pop(0) if len(self.states) > 1 else self.states[0]
            return {
                "EndpointName": params["EndpointName"],
                "EndpointStatus": status,
                "EndpointConfigName": config,
                "FailureReason": "Rolled back: alarm went off" if status == "RollingBack" else "",
            }
        return self._real(client, operation, params)


@pytest.fixture
def script(moto_env: None) -> Iterator[Script]:
    scripted = Script([])
    with mock.patch.object(
        botocore.client.BaseClient,
        "_make_api_call",
        autospec=True,
        side_effect=scripted,
    ):
        yield scripted


def _sm() -> Any:
    return boto3.client("sagemaker", region_name=REGION)


def _config(name: str, models: dict[str, str], instance_type: str = "ml.c5.xlarge") -> str:
    sm = _sm()
    for model in models.values():
        with contextlib.suppress(sm.exceptions.ClientError):  # shared with another config
            sm.create_model(
                ModelName=model, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": IMAGE}
            )
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": v,
                "ModelName": m,
                "InstanceType": instance_type,
                "InitialInstanceCount": 2,
                "InitialVariantWeight": 1.0,
            }
            for v, m in models.items()
        ],
    )
    return name


def _props(name: str, config: str, **more: Any) -> dict[str, Any]:
    rollback = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": ALARM}]}}
    policy = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 60.0},
            "MaximumExecutionTimeoutInSeconds": 1800.0,  # Pulumi sends numbers as floats
        },
        **rollback,
    }
    return {
        "kind": "sagemaker-endpoint",
        "name": name,
        "region": REGION,
        "endpoint_config_name": config,
        "deployment_config": policy,
        "tags": {"team": "ml"},
        "wait_timeout_s": 60,
        "poll_s": 0,
        **more,
    }


def _exists(kind: str, name: str) -> bool:
    sm = _sm()
    try:
        if kind == "config":
            sm.describe_endpoint_config(EndpointConfigName=name)
        else:
            sm.describe_model(ModelName=name)
    except sm.exceptions.ClientError:
        return False
    return True


def _created(name: str, script: Script) -> tuple[SageMakerEndpointProvider, dict[str, Any]]:
    _config(f"{name}-a", {"primary": f"{name}-m1", "challenger": f"{name}-shared"})
    provider = SageMakerEndpointProvider()
    result = provider.create(_props(name, f"{name}-a"))
    return provider, dict(result.outs or {})


def test_create_waits_until_in_service_and_records_the_arn(script: Script) -> None:
    script.states = [("Creating", "c1-a"), ("Creating", "c1-a"), ("InService", "c1-a")]
    provider, outs = _created("c1", script)
    assert outs["arn"].endswith(":endpoint/c1")
    assert script.states == [("InService", "c1-a")]  # it polled through Creating
    tags = _sm().list_tags(ResourceArn=outs["arn"])["Tags"]
    assert {"Key": "team", "Value": "ml"} in tags
    assert provider  # picklable below


def test_the_provider_pickles_without_clients_or_outputs() -> None:
    # Pulumi stores the provider in the stack's state (dill): it must hold nothing live.
    provider = pickle.loads(pickle.dumps(SageMakerEndpointProvider()))  # noqa: S301
    assert vars(provider) == {}


def test_deployment_config_and_config_changes_never_replace() -> None:
    provider = SageMakerEndpointProvider()
    olds = _props("d", "d-a")
    no_rollback = {**olds, "deployment_config": {"BlueGreenUpdatePolicy": {}}}
    for news in (no_rollback, {**olds, "endpoint_config_name": "d-b"}, {**olds, "tags": {}}):
        diff = provider.diff("d", olds, news)
        assert diff.changes
        assert not diff.replaces
    assert provider.diff("d", olds, {**olds, "name": "other"}).replaces == ["name"]
    assert not provider.diff("d", olds, dict(olds)).changes


def test_update_keeps_autoscaled_counts_and_collects_the_old_config(script: Script) -> None:
    script.states = [("InService", "u-a")]
    provider, outs = _created("u", script)
    _config("u-b", {"primary": "u-m2", "challenger": "u-shared"})
    script.states = [("Updating", "u-a"), ("Updating", "u-a"), ("InService", "u-b")]
    result = provider.update("u", outs, {**outs, "endpoint_config_name": "u-b"})
    (request,) = script.updates
    assert request["RetainAllVariantProperties"] is True
    assert {p["VariantPropertyType"] for p in request["ExcludeRetainedVariantProperties"]} == {
        "DesiredWeight",
        "DataCaptureConfig",
    }
    assert (
        request["DeploymentConfig"]["BlueGreenUpdatePolicy"]["MaximumExecutionTimeoutInSeconds"]
        == 1800
    )
    assert (result.outs or {})["endpoint_config_name"] == "u-b"
    # The endpoint serves u-b: u-a and the model only it used are deleted; the rest stay.
    assert not _exists("config", "u-a")
    assert not _exists("model", "u-m1")
    assert _exists("model", "u-shared")
    assert _exists("config", "u-b")
    assert _exists("model", "u-m2")


def test_a_rollback_fails_the_update_naming_the_alarm_and_keeps_the_old_config(
    script: Script,
) -> None:
    script.states = [("InService", "r-a")]
    provider, outs = _created("r", script)
    _config("r-b", {"primary": "r-m2", "challenger": "r-shared"})
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    cloudwatch.put_metric_alarm(
        AlarmName=ALARM,
        MetricName="Invocation5XXErrors",
        Namespace="AWS/SageMaker",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    script.on_update = lambda: cloudwatch.set_alarm_state(
        AlarmName=ALARM, StateValue="ALARM", StateReason="5xx during the canary"
    )
    script.states = [("Updating", "r-a"), ("RollingBack", "r-a"), ("InService", "r-a")]
    with pytest.raises(EndpointUpdateError) as err:
        provider.update("r", outs, {**outs, "endpoint_config_name": "r-b"})
    assert ALARM in str(err.value)
    assert "rolled back" in str(err.value)
    # It waited through RollingBack, and what still serves is kept.
    assert script.states == [("InService", "r-a")]
    assert _exists("config", "r-a")
    assert _exists("model", "r-m1")


def test_an_update_that_outlasts_its_wait_says_so(script: Script) -> None:
    script.states = [("InService", "t-a")]
    provider, outs = _created("t", script)
    _config("t-b", {"primary": "t-m2"})
    script.states = [("Updating", "t-a")]
    with pytest.raises(EndpointUpdateError, match="still Updating after 0s"):
        provider.update("t", outs, {**outs, "endpoint_config_name": "t-b", "wait_timeout_s": 0})
    assert _exists("config", "t-a")


def test_a_new_instance_type_moves_autoscaling_aside_and_back(script: Script) -> None:
    script.states = [("InService", "s-a")]
    provider, outs = _created("s", script)
    _config("s-b", {"primary": "s-m1", "challenger": "s-shared"}, instance_type="ml.c5.2xlarge")
    scaling = boto3.client("application-autoscaling", region_name=REGION)
    rid, dim = "endpoint/s/variant/primary", "sagemaker:variant:DesiredInstanceCount"
    scope = {"ServiceNamespace": "sagemaker", "ResourceId": rid, "ScalableDimension": dim}
    scaling.register_scalable_target(**scope, MinCapacity=2, MaxCapacity=6)
    scaling.put_scaling_policy(
        PolicyName="s-tracking",
        PolicyType="TargetTrackingScaling",
        **scope,
        TargetTrackingScalingPolicyConfiguration={
            "TargetValue": 400.0,
            "PredefinedMetricSpecification": {
                "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
            },
        },
    )
    scaling.put_scheduled_action(
        ScheduledActionName="s-nights",
        Schedule="cron(0 20 ? * MON-FRI *)",
        **scope,
        ScalableTargetAction={"MinCapacity": 2, "MaxCapacity": 2},
    )
    registered_during_update: list[int] = []
    script.on_update = lambda: registered_during_update.append(
        len(
            scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])[
                "ScalableTargets"
            ]
        )
    )
    script.states = [("Updating", "s-a"), ("InService", "s-b")]
    provider.update("s", outs, {**outs, "endpoint_config_name": "s-b"})
    assert registered_during_update == [0]  # UpdateEndpoint refuses a registered variant
    (target,) = scaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])[
        "ScalableTargets"
    ]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    policies = scaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)
    assert [p["PolicyName"] for p in policies["ScalingPolicies"]] == ["s-tracking"]
    actions = scaling.describe_scheduled_actions(ServiceNamespace="sagemaker", ResourceId=rid)
    assert [a["ScheduledActionName"] for a in actions["ScheduledActions"]] == ["s-nights"]


def test_a_deployment_config_change_alone_calls_no_update(script: Script) -> None:
    script.states = [("InService", "k-a")]
    provider, outs = _created("k", script)
    news = {**outs, "deployment_config": {"BlueGreenUpdatePolicy": {}}, "tags": {"team": "ai"}}
    result = provider.update("k", outs, news)
    assert script.updates == []  # kept for the next rollout; the endpoint keeps serving
    assert (result.outs or {})["deployment_config"] == {"BlueGreenUpdatePolicy": {}}
    tags = _sm().list_tags(ResourceArn=outs["arn"])["Tags"]
    assert {"Key": "team", "Value": "ai"} in tags


def test_delete_removes_the_endpoint_its_config_and_models(script: Script) -> None:
    script.states = [("InService", "x-a")]
    provider, outs = _created("x", script)
    script.states = []
    provider.delete("x", outs)
    names = [e["EndpointName"] for e in _sm().list_endpoints()["Endpoints"]]
    assert "x" not in names
    assert not _exists("config", "x-a")
    assert not _exists("model", "x-m1")
    assert not _exists("model", "x-shared")
