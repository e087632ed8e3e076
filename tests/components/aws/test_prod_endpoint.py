"""The prod deployment mirrored into moto: what exists, and how it is wired.

Each test asks moto (through boto3) what the AWS API now holds. Where moto drops
a field, the test says so and checks the Pulumi input the mirror sent instead.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from inferstack.components.aws.common import SAGEMAKER_NAMESPACE

ENDPOINT = "churn-test"


@pytest.fixture(scope="module")
def prod(deploy, spec_for):
    return deploy(spec_for())


def _statements(document: str | dict) -> list[dict[str, Any]]:
    doc = json.loads(document) if isinstance(document, str) else document
    return doc["Statement"]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_outputs_name_the_endpoint_api_and_dashboard(prod) -> None:
    outputs = prod.outputs
    assert outputs["endpoint_name"] == ENDPOINT
    api_id = prod.ids("aws:apigateway/restApi:RestApi")[0]
    assert outputs["url"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/prod"
    assert outputs["dashboard_url"].endswith(f"#dashboards:name={ENDPOINT}")
    assert len(outputs["api_key"]) == 40


def test_endpoint_config_names_the_model_that_exists(prod) -> None:
    sagemaker = prod.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    (variant,) = config["ProductionVariants"]
    assert variant["VariantName"] == "primary"
    assert variant["InstanceType"] == "ml.g5.xlarge"
    assert variant["InitialInstanceCount"] == 2
    model = sagemaker.describe_model(ModelName=variant["ModelName"])
    container = model["PrimaryContainer"]
    # The RuntimeImage built from the bundle, pushed to this deployment's ECR repository.
    (repo,) = prod.client("ecr").describe_repositories(repositoryNames=[f"inferstack/{ENDPOINT}"])[
        "repositories"
    ]
    assert container["Image"].startswith(f"{repo['repositoryUri']}:1.2.0-")
    assert container["Environment"]["INFERSTACK_MODEL_VERSION"] == "1.2.0"
    bucket, _, key = container["ModelDataUrl"].removeprefix("s3://").partition("/")
    # moto checks object reads against the bucket policy without request context (the
    # TLS-only Deny matches every call), so list the object rather than HEAD it.
    listed = prod.client("s3").list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]
    assert [o["Key"] for o in listed] == [key]
    assert key == "models/churn/1.2.0/model.tar.gz"
    role = model["ExecutionRoleArn"].rpartition("/")[2]
    prod.client("iam").get_role(RoleName=role)


def test_gpu_instances_use_hardware_encrypted_local_storage(prod) -> None:
    # ml.g5 has NVMe instance storage: SageMaker refuses a volume KMS key for it.
    sagemaker = prod.client("sagemaker")
    name = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    assert not sagemaker.describe_endpoint_config(EndpointConfigName=name).get("KmsKeyId")


def test_data_capture_goes_to_the_stack_key_and_own_prefix(prod) -> None:
    sagemaker = prod.client("sagemaker")
    name = sagemaker.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]
    capture = sagemaker.describe_endpoint_config(EndpointConfigName=name)["DataCaptureConfig"]
    assert capture["InitialSamplingPercentage"] == 5
    assert capture["DestinationS3Uri"].endswith(f"/capture/{ENDPOINT}")
    key = prod.client("kms").describe_key(KeyId=capture["KmsKeyId"])["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER"


def test_endpoint_rolls_out_canary_with_rollback_alarms(prod) -> None:
    # moto's CreateEndpoint drops DeploymentConfig (botocore validated its shape when the
    # mirror sent it), so the check reads the Pulumi inputs the mirror received.
    (inputs,) = prod.endpoints()
    config = inputs["deployment_config"]
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY"
    assert routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 10}
    assert routing["WaitIntervalInSeconds"] == 300
    names = [a["AlarmName"] for a in config["AutoRollbackConfiguration"]["Alarms"]]
    existing = prod.client("cloudwatch").describe_alarms(AlarmNames=names)["MetricAlarms"]
    assert sorted(a["AlarmName"] for a in existing) == sorted(names)
    assert f"{ENDPOINT}-primary-5xx-rate" in names


def test_scaling_target_is_the_endpoints_variant(prod) -> None:
    autoscaling = prod.client("application-autoscaling")
    (target,) = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")[
        "ScalableTargets"
    ]
    assert target["ResourceId"] == f"endpoint/{ENDPOINT}/variant/primary"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    variants = prod.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)[
        "ProductionVariants"
    ]
    assert target["ResourceId"].rpartition("/")[2] in {v["VariantName"] for v in variants}
    (policy,) = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")[
        "ScalingPolicies"
    ]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert (
        tracking["PredefinedMetricSpecification"]["PredefinedMetricType"]
        == "SageMakerVariantInvocationsPerInstance"
    )
    assert (tracking["TargetValue"], tracking["ScaleInCooldown"], tracking["ScaleOutCooldown"]) == (
        400,
        600,
        30,
    )


def test_schedule_is_an_aws_cron_on_the_same_target(prod) -> None:
    (action,) = prod.client("application-autoscaling").describe_scheduled_actions(
        ServiceNamespace="sagemaker"
    )["ScheduledActions"]
    assert action["Schedule"] == "cron(0 20 ? * MON-FRI *)"
    assert action["Timezone"] == "Europe/Paris"
    assert action["ResourceId"] == f"endpoint/{ENDPOINT}/variant/primary"
    assert action["ScalableTargetAction"] == {"MinCapacity": 2, "MaxCapacity": 2}


def _alarm_dimensions(alarm: dict[str, Any]) -> list[dict[str, str]]:
    dims = [alarm.get("Dimensions") or []]
    dims += [
        q["MetricStat"]["Metric"]["Dimensions"]
        for q in alarm.get("Metrics", [])
        if "MetricStat" in q
    ]
    return [{d["Name"]: d["Value"] for d in group} for group in dims if group]


def test_every_alarm_names_the_real_endpoint_variant_or_api(prod) -> None:
    alarms = prod.client("cloudwatch").describe_alarms()["MetricAlarms"]
    variants = {
        v["VariantName"]
        for v in prod.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)[
            "ProductionVariants"
        ]
    }
    apis = {a["name"] for a in prod.client("apigateway").get_rest_apis()["items"]}
    stages = {
        s["stageName"]
        for s in prod.client("apigateway").get_stages(
            restApiId=prod.ids("aws:apigateway/restApi:RestApi")[0]
        )["item"]
    }
    kinds = set()
    for alarm in alarms:
        groups = _alarm_dimensions(alarm)
        assert groups, alarm["AlarmName"]
        for dims in groups:
            if "EndpointName" in dims:
                assert dims["EndpointName"] == ENDPOINT
                assert dims["VariantName"] in variants
            else:
                assert dims["ApiName"] in apis
                assert dims["Stage"] in stages
        kinds.add(alarm["AlarmName"].removeprefix(f"{ENDPOINT}-"))
        topic = alarm["AlarmActions"][0]
        assert topic == alarm["OKActions"][0]
    assert kinds == {
        "primary-latency-p99",
        "primary-5xx-rate",
        "primary-4xx-rate",
        "primary-drift",
        "primary-drift-pvalue",
        "primary-prediction-drift",
        "primary-prediction-drift-pvalue",
        "primary-cpu",
        "primary-memory",
        "primary-gpu",
        "api-5xx",
        "api-latency-p99",
    }
    latency = next(a for a in alarms if a["AlarmName"].endswith("primary-latency-p99"))
    assert latency["ExtendedStatistic"] == "p99"
    assert latency["Threshold"] == 500_000  # microseconds
    gpu = next(a for a in alarms if a["AlarmName"].endswith("primary-gpu"))
    assert gpu["Namespace"] == SAGEMAKER_NAMESPACE


def test_alarms_notify_the_encrypted_topic_and_its_subscribers(prod) -> None:
    sns = prod.client("sns")
    (topic,) = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["KmsMasterKeyId"].startswith("arn:aws:kms:")
    (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", "oncall@example.com")
    alarms = prod.client("cloudwatch").describe_alarms()["MetricAlarms"]
    assert {a["AlarmActions"][0] for a in alarms} == {topic}


def test_log_groups_keep_logs_for_the_spec_days_encrypted(prod) -> None:
    groups = prod.client("logs").describe_log_groups()["logGroups"]
    by_name = {g["logGroupName"]: g for g in groups}
    for name in (f"/aws/sagemaker/Endpoints/{ENDPOINT}", f"/aws/apigateway/{ENDPOINT}/access"):
        assert by_name[name]["retentionInDays"] == 90
        assert by_name[name]["kmsKeyId"].startswith("arn:aws:kms:")


def test_dashboard_shows_every_variant_and_the_gateway(prod) -> None:
    body = json.loads(
        prod.client("cloudwatch").get_dashboard(DashboardName=ENDPOINT)["DashboardBody"]
    )
    metrics = [m for w in body["widgets"] for m in w["properties"]["metrics"]]
    assert [
        "AWS/SageMaker",
        "Invocations",
        "EndpointName",
        ENDPOINT,
        "VariantName",
        "primary",
    ] in metrics
    assert any(m[0] == "AWS/ApiGateway" and m[1] == "5XXError" for m in metrics)
    gpu = next(m for m in metrics if len(m) > 1 and m[1] == "GPUUtilization")
    assert gpu[-1] == {"id": "m0", "visible": False}
    # ml.g5.xlarge has 4 vCPUs and 1 GPU: the plotted series are shares of the instance.
    expressions = {m[0]["expression"] for m in metrics if isinstance(m[0], dict)}
    assert {"m0 / 4", "m0 / 1"} <= expressions
