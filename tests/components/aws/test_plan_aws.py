"""The real stack program for the AWS stacks under the offline plan, and early refusals."""

from __future__ import annotations

import pulumi
import pytest

from inferstack.components.aws.endpoint import AwsEndpointOptions, validate
from inferstack.components.errors import SpecError
from inferstack.components.plan.run import run_plan
from inferstack.components.spec.config import load_spec
from inferstack.components.testing import MotoMocks
from tests.components.aws.conftest import merge, prod_spec_data

EXPECTED = {
    "inferstack:aws:AwsEndpoint",
    "inferstack:aws:SageMakerEndpoint",
    "inferstack:aws:ApiGateway",
    "inferstack:aws:Observability",
    "inferstack:aws:EndpointAutoscaling",
    "aws:kms/key:Key",
    "aws:s3/bucket:Bucket",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketObjectv2:BucketObjectv2",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:ecr/repository:Repository",
    "aws:sagemaker/model:Model",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
    "pulumi-python:dynamic:Resource",  # the SageMaker endpoint (aws/endpoint_provider.py)
    "aws:appautoscaling/target:Target",
    "aws:appautoscaling/policy:Policy",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:cloudwatch/dashboard:Dashboard",
    "aws:sns/topic:Topic",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:apigateway/restApi:RestApi",
    "aws:apigateway/method:Method",
    "aws:apigateway/integration:Integration",
    "aws:apigateway/stage:Stage",
    "aws:apigateway/apiKey:ApiKey",
    "aws:apigateway/usagePlan:UsagePlan",
    "aws:apigateway/usagePlanKey:UsagePlanKey",
    "aws:wafv2/webAcl:WebAcl",
}


@pytest.fixture(scope="module")
def prod_plan():
    return run_plan("prod-aws")


def test_prod_plan_lists_the_aws_resources(prod_plan) -> None:
    assert {r.type for r in prod_plan.resources} >= EXPECTED
    (config,) = prod_plan.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    (variant,) = config.inputs["productionVariants"]
    assert variant["instanceType"].startswith("ml.g5.")
    assert variant["initialInstanceCount"] >= 2
    (endpoint,) = prod_plan.of_type("pulumi-python:dynamic:Resource")
    assert endpoint.inputs["kind"] == "sagemaker-endpoint"
    assert endpoint.inputs["deployment_config"]["AutoRollbackConfiguration"]["Alarms"]
    assert prod_plan.outputs["api_key"] == "[secret]"
    assert prod_plan.outputs["endpoint_url"].startswith("https://")


def test_dev_plan_scales_down_at_night() -> None:
    plan = run_plan("dev-aws")
    schedules = [
        r.inputs["schedule"]
        for r in plan.of_type("aws:appautoscaling/scheduledAction:ScheduledAction")
    ]
    assert "cron(0 20 ? * MON-FRI *)" in schedules


def test_every_aws_type_in_the_plan_is_mirrored_into_moto(prod_plan) -> None:
    from inferstack.components.testing import MIRRORS

    aws_types = {r.type for r in prod_plan.resources if r.type.startswith("aws:")}
    assert aws_types <= set(MIRRORS), aws_types - set(MIRRORS)


def test_unmirrored_aws_types_fail_loudly() -> None:
    args = pulumi.runtime.MockResourceArgs(
        typ="aws:ec2/natGateway:NatGateway",
        name="v",
        inputs={},
        provider=None,
        resource_id=None,
        custom=True,
    )
    with pytest.raises(NotImplementedError, match="aws:ec2/natGateway:NatGateway"):
        MotoMocks().new_resource(args)


def test_missing_bundle_bad_cron_and_non_ecr_image_are_refused(spec_for, tmp_path) -> None:
    spec = spec_for(
        {
            "model": {"artifact": str(tmp_path / "missing")},
            "scaling": {
                "schedules": [
                    {"name": "x", "cron": "0 0 1 * 1", "min_replicas": 1, "max_replicas": 1}
                ]
            },
        }
    )
    with pytest.raises(SpecError) as err:
        validate(spec, AwsEndpointOptions(image_uri="python:3.11"))
    message = str(err.value)
    assert "deployment.model.artifact: no bundle folder at" in message
    assert "deployment.scaling.schedules.0.cron" in message
    assert "image_uri" in message


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rollout": {"strategy": "canary", "canary_percent": 60}}, "rollout.canary_percent"),
        (
            {"rollout": {"strategy": "linear", "linear_step_percent": 5}},
            "rollout.linear_step_percent",
        ),
        (
            {"rollout": {"strategy": "linear", "linear_step_percent": 75}},
            "rollout.linear_step_percent",
        ),
        (
            {
                "environment": "dev",
                "compute": {"accelerator": "none"},
                "targets": {"aws": {"mode": "serverless", "network_isolation": True}},
                "observability": {"data_capture_percent": 0},
                "rollout": {"strategy": "all_at_once"},
            },
            "targets.aws.network_isolation",
        ),
    ],
)
def test_what_sagemaker_refuses_at_up_is_refused_before_any_resource(
    bundle, changes, field
) -> None:
    # SageMaker takes a canary of at most 50% and linear steps of 10-50% of the new
    # fleet, and no network isolation on serverless; CreateEndpoint would fail mid-`up`.
    with pytest.raises(SpecError) as err:
        load_spec(merge(prod_spec_data(bundle), changes))
    assert f"deployment.{field}" in str(err.value)


def _variants(count: int) -> dict:
    variants = [
        {"name": f"challenger-{i}", "model_version": "1.2.0", "weight": 1} for i in range(count)
    ]
    return {"rollout": {"strategy": "blue_green", "variants": variants}}


def test_more_rollback_alarms_than_sagemaker_watches_are_refused(spec_for) -> None:
    # Two rollback alarms a variant (latency p99, 5xx rate); a deployment config holds
    # ten. Six variants used to lose two alarms silently.
    validate(spec_for(_variants(4)), AwsEndpointOptions())  # 5 variants: 10 alarms
    with pytest.raises(SpecError) as err:
        validate(spec_for(_variants(5)), AwsEndpointOptions())
    assert "deployment.rollout.variants: 6 variants (primary included) make 12" in str(err.value)
    changes = _variants(5)
    changes["rollout"]["auto_rollback"] = False
    validate(spec_for(changes), AwsEndpointOptions())


def test_sagemaker_step_sizes_at_their_limits_are_accepted(spec_for) -> None:
    validate(
        spec_for({"rollout": {"strategy": "canary", "canary_percent": 50}}), AwsEndpointOptions()
    )
    for step in (10, 50):
        spec = spec_for({"rollout": {"strategy": "linear", "linear_step_percent": step}})
        validate(spec, AwsEndpointOptions())
