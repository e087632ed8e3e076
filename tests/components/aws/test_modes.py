"""A/B variants, GPU-utilisation scaling, serverless, async, and the other auth modes."""

from __future__ import annotations

import copy
import json

import pytest

from inferstack.components.errors import SpecError
from tests.components.aws.conftest import write_bundle

AB = {
    "environment": "staging",
    "scaling": {"target_metric": "gpu_utilization", "target_value": 70, "schedules": []},
    "compute": {"gpu_count": 1},
    "gateway": {"waf": False, "allowed_cidrs": []},
    "rollout": {
        "strategy": "blue_green",
        "primary_weight": 3,
        "bake_time_s": 120,
        "variants": [{"name": "challenger", "model_version": "1.3.0", "weight": 1, "replicas": 1}],
    },
}


@pytest.fixture(scope="module")
def ab(deploy, spec_for, tmp_path_factory):
    challenger = write_bundle(tmp_path_factory.mktemp("challenger"), "1.3.0")
    changes = copy.deepcopy(AB)
    changes["rollout"]["variants"][0]["artifact"] = str(challenger)
    return deploy(spec_for(changes), name="ab")


def test_a_variant_without_its_own_bundle_is_refused(deploy, spec_for) -> None:
    # The challenger would serve the model's 1.2.0 bundle while labelled 1.3.0.
    with pytest.raises(SpecError, match=r"variants\.0\.model_version: '1\.3\.0' differs"):
        deploy(spec_for(AB), name="ab-no-artifact")


def test_ab_variants_share_traffic_by_weight_each_with_its_model(ab) -> None:
    sagemaker = ab.client("sagemaker")
    endpoint = sagemaker.describe_endpoint(EndpointName="ab-test")
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    variants = {v["VariantName"]: v for v in config["ProductionVariants"]}
    assert set(variants) == {"primary", "challenger"}
    assert variants["primary"]["InitialVariantWeight"] == 3
    assert variants["challenger"]["InitialVariantWeight"] == 1
    versions = {}
    for name, variant in variants.items():
        model = sagemaker.describe_model(ModelName=variant["ModelName"])
        versions[name] = model["PrimaryContainer"]["Environment"]["INFERSTACK_MODEL_VERSION"]
    assert versions == {"primary": "1.2.0", "challenger": "1.3.0"}
    urls = {
        sagemaker.describe_model(ModelName=v["ModelName"])["PrimaryContainer"]["ModelDataUrl"]
        for v in variants.values()
    }
    assert len(urls) == 2


def test_ab_each_variant_scales_on_gpu_utilisation(ab) -> None:
    autoscaling = ab.client("application-autoscaling")
    ids = {
        t["ResourceId"]
        for t in autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")[
            "ScalableTargets"
        ]
    }
    assert {"endpoint/ab-test/variant/primary", "endpoint/ab-test/variant/challenger"} <= ids
    policies = [
        p
        for p in autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")[
            "ScalingPolicies"
        ]
        if p["ResourceId"].startswith("endpoint/ab-test/")
    ]
    assert len(policies) == 2
    for policy in policies:
        metric = policy["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
        assert metric["MetricName"] == "GPUUtilization"
        assert metric["Namespace"] == "/aws/sagemaker/Endpoints"
        dims = {d["Name"]: d["Value"] for d in metric["Dimensions"]}
        assert dims["EndpointName"] == "ab-test"
        assert policy["ResourceId"].endswith(f"/variant/{dims['VariantName']}")


def test_ab_alarms_and_rollback_cover_every_variant(ab) -> None:
    names = {
        a["AlarmName"]
        for a in ab.client("cloudwatch").describe_alarms(AlarmNamePrefix="ab-test-")["MetricAlarms"]
    }
    assert {"ab-test-challenger-5xx-rate", "ab-test-primary-5xx-rate"} <= names
    # moto drops DeploymentConfig: check what the mirror sent (botocore-validated).
    config = next(i for i in ab.endpoints() if i["name"] == "ab-test")["deployment_config"]
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 120}
    rollback = {a["AlarmName"] for a in config["AutoRollbackConfiguration"]["Alarms"]}
    assert rollback <= names
    assert "ab-test-challenger-latency-p99" in rollback


def test_serverless_endpoint_has_no_instances_scaling_or_guardrails(deploy, spec_for) -> None:
    spec = spec_for(
        {
            "environment": "dev",
            "compute": {"accelerator": "none"},
            "targets": {
                "aws": {
                    "mode": "serverless",
                    "serverless_memory_mb": 2048,
                    "serverless_max_concurrency": 5,
                }
            },
            "scaling": {"schedules": []},
            "gateway": {"waf": False},
            "observability": {"data_capture_percent": 0},
            "rollout": {"strategy": "all_at_once"},
        }
    )
    deployed = deploy(spec, name="sls")
    sagemaker = deployed.client("sagemaker")
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName="sls-test")[
            "EndpointConfigName"
        ]
    )
    (variant,) = config["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 5}
    assert "InstanceType" not in variant
    assert not deployed.ids("aws:appautoscaling/target:Target")
    (endpoint_inputs,) = deployed.endpoints()
    assert not endpoint_inputs.get("deployment_config")
    alarms = {
        a["AlarmName"]
        for a in deployed.client("cloudwatch").describe_alarms(AlarmNamePrefix="sls-test-")[
            "MetricAlarms"
        ]
    }
    assert "sls-test-primary-cpu" not in alarms
    assert "sls-test-primary-5xx-rate" in alarms


def test_async_endpoint_writes_results_under_its_prefix_and_scales_to_zero(
    deploy, spec_for
) -> None:
    spec = spec_for(
        {
            "targets": {"aws": {"mode": "async"}},
            "scaling": {"min_replicas": 0, "schedules": []},
            "gateway": {"waf": False},
        }
    )
    deployed = deploy(spec, name="batch")
    sagemaker = deployed.client("sagemaker")
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName="batch-test")[
            "EndpointConfigName"
        ]
    )
    output = config["AsyncInferenceConfig"]["OutputConfig"]
    assert output["S3OutputPath"].endswith("/async/batch-test/output")
    assert output["S3FailurePath"].endswith("/async/batch-test/failures")
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 1
    # SageMaker reads each request's InputLocation with the execution role: it may read
    # the endpoint's input prefix and write only its output and failure prefixes.
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    iam = deployed.client("iam")
    role = model["ExecutionRoleArn"].rpartition("/")[2]
    (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    (bucket,) = deployed.ids("aws:s3/bucket:Bucket")
    prefix = f"arn:aws:s3:::{bucket}/async/batch-test"
    assert f"{prefix}/input/*" in by_sid["ReadArtifacts"]["Resource"]
    assert by_sid["WriteOwnPrefixes"]["Resource"] == sorted(
        [
            f"arn:aws:s3:::{bucket}/capture/batch-test/*",
            f"arn:aws:s3:::{bucket}/batch/batch-test/output/*",  # `score --stack`
            f"{prefix}/output/*",
            f"{prefix}/failures/*",
        ]
    )
    assert output["S3OutputPath"] == f"s3://{bucket}/async/batch-test/output"
    autoscaling = deployed.client("application-autoscaling")
    target = next(
        t
        for t in autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")[
            "ScalableTargets"
        ]
        if t["ResourceId"] == "endpoint/batch-test/variant/primary"
    )
    assert target["MinCapacity"] == 0
    policy = next(
        p
        for p in autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")[
            "ScalingPolicies"
        ]
        if p["ResourceId"] == "endpoint/batch-test/variant/primary"
        and p["PolicyType"] == "TargetTrackingScaling"
    )
    metric = policy["TargetTrackingScalingPolicyConfiguration"]["CustomizedMetricSpecification"]
    assert metric["MetricName"] == "ApproximateBacklogSizePerInstance"
    # At zero instances target tracking has nothing to track: SageMaker scales out from
    # zero only through a step policy on HasBacklogWithoutCapacity.
    (step,) = [
        p
        for p in autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")[
            "ScalingPolicies"
        ]
        if p["ResourceId"] == "endpoint/batch-test/variant/primary"
        and p["PolicyType"] == "StepScaling"
    ]
    config = step["StepScalingPolicyConfiguration"]
    assert config["AdjustmentType"] == "ChangeInCapacity"
    assert config["StepAdjustments"] == [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}]
    (alarm,) = deployed.client("cloudwatch").describe_alarms(
        AlarmNames=["batch-test-primary-backlog-without-capacity"]
    )["MetricAlarms"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (
        "AWS/SageMaker",
        "HasBacklogWithoutCapacity",
    )
    assert alarm["Dimensions"] == [{"Name": "EndpointName", "Value": "batch-test"}]
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["Threshold"] == 1
    assert alarm["AlarmActions"] == [step["PolicyARN"]]
    apigw = deployed.client("apigateway")
    api = deployed.ids("aws:apigateway/restApi:RestApi")[0]
    resource = next(
        r for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/invocations"
    )
    uri = apigw.get_integration(restApiId=api, resourceId=resource["id"], httpMethod="POST")["uri"]
    assert uri.endswith("/endpoints/batch-test/async-invocations")


@pytest.mark.parametrize(
    ("auth", "authorization"), [("iam", "AWS_IAM"), ("jwt", "COGNITO_USER_POOLS")]
)
def test_iam_and_jwt_auth_need_no_key(deploy, spec_for, auth: str, authorization: str) -> None:
    gateway = {"auth": auth, "waf": False}
    if auth == "jwt":
        gateway["jwt"] = {
            "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc",
            "audience": "client-id",
        }
    name = f"auth{auth}"
    deployed = deploy(spec_for({"gateway": gateway, "scaling": {"schedules": []}}), name=name)
    apigw = deployed.client("apigateway")
    api = deployed.ids("aws:apigateway/restApi:RestApi")[0]
    resource = next(
        r for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/invocations"
    )
    method = apigw.get_method(restApiId=api, resourceId=resource["id"], httpMethod="POST")
    assert method["authorizationType"] == authorization
    assert deployed.outputs["api_key"] == ""
    assert not deployed.ids("aws:apigateway/apiKey:ApiKey")
    if auth == "jwt":
        (authorizer,) = apigw.get_authorizers(restApiId=api)["items"]
        assert method["authorizerId"] == authorizer["id"]
        assert authorizer["providerARNs"] == [
            "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Abc"
        ]


def test_iam_auth_resource_policy_allows_only_this_account(deploy, spec_for) -> None:
    # With a `*` principal, a signed caller of any account whose own IAM policy allows
    # execute-api:Invoke could call the API; IAM auth must name this account.
    gateway = {"auth": "iam", "waf": False, "allowed_cidrs": []}
    deployed = deploy(spec_for({"gateway": gateway, "scaling": {"schedules": []}}), name="iamonly")
    apigw = deployed.client("apigateway")
    api = apigw.get_rest_api(restApiId=deployed.ids("aws:apigateway/restApi:RestApi")[0])
    raw = api["policy"]
    policy = json.loads(raw.replace('\\"', '"')) if isinstance(raw, str) else raw
    (allow,) = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
