"""Secure by default, checked on what moto holds: the bucket, the key, the roles, the API."""

from __future__ import annotations

import json
from typing import Any

import pytest

from inferstack.components.aws.policies import CONDITION_SCOPED_ACTIONS, TOKEN_ONLY_ACTIONS

ENDPOINT = "churn-test"


@pytest.fixture(scope="module")
def prod(deploy, spec_for):
    return deploy(spec_for())


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _bucket(prod) -> str:
    (bucket,) = prod.ids("aws:s3/bucket:Bucket")
    return bucket


def _stack_key_arn(prod) -> str:
    (key_id,) = prod.ids("aws:kms/key:Key")
    return prod.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]


def test_bucket_denies_non_tls_access(prod) -> None:
    s3, bucket = prod.client("s3"), _bucket(prod)
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    deny = next(s for s in policy["Statement"] if s["Sid"] == "DenyInsecureTransport")
    assert deny["Effect"] == "Deny"
    assert deny["Principal"] == "*"
    assert deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(deny["Resource"]) == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]


def test_bucket_is_encrypted_with_the_stacks_key(prod) -> None:
    s3, bucket = prod.client("s3"), _bucket(prod)
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    default = rule["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert default["KMSMasterKeyID"] == _stack_key_arn(prod)
    assert rule["BucketKeyEnabled"] is True
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    other_keys = next(s for s in policy["Statement"] if s["Sid"] == "DenyOtherKmsKeys")
    assert other_keys["Condition"]["StringNotEqualsIfExists"] == {
        "s3:x-amz-server-side-encryption-aws-kms-key-id": _stack_key_arn(prod)
    }


def test_bucket_is_private_and_versioned(prod) -> None:
    s3, bucket = prod.client("s3"), _bucket(prod)
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values())
    assert len(block) == 4
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]
    assert ownership["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]


def test_stack_key_rotates_and_lets_only_logs_and_alarms_in(prod) -> None:
    kms = prod.client("kms")
    key = _stack_key_arn(prod)
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    policy = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    services = {s["Principal"].get("Service") for s in policy["Statement"]}
    assert services == {None, "logs.us-east-1.amazonaws.com", "cloudwatch.amazonaws.com"}
    aliases = [a["AliasName"] for a in kms.list_aliases(KeyId=key)["Aliases"]]
    assert aliases == [f"alias/inferstack/{ENDPOINT}"]


def _execution_role(prod) -> tuple[str, dict[str, Any]]:
    return _execution_role_of(prod, ENDPOINT)


def _execution_role_of(prod, endpoint: str) -> tuple[str, dict[str, Any]]:
    sagemaker = prod.client("sagemaker")
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"]
    )
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    role = model["ExecutionRoleArn"].rpartition("/")[2]
    iam = prod.client("iam")
    (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    return role, document if isinstance(document, dict) else json.loads(document)


def test_execution_role_grants_nothing_outside_its_own_resources(prod) -> None:
    role, document = _execution_role(prod)
    bucket = _bucket(prod)
    (repo,) = prod.client("ecr").describe_repositories(repositoryNames=[f"inferstack/{ENDPOINT}"])[
        "repositories"
    ]
    alarms = {
        f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{ENDPOINT}-primary-{what}"
        for what in ("latency-p99", "5xx-rate")
    }
    own = alarms | {
        f"arn:aws:s3:::{bucket}/models/churn/1.2.0/model.tar.gz",
        f"arn:aws:s3:::{bucket}/capture/{ENDPOINT}/*",
        # Batch Transform (`inferstack score --stack`): reads input, writes results.
        f"arn:aws:s3:::{bucket}/batch/{ENDPOINT}/input/*",
        f"arn:aws:s3:::{bucket}/batch/{ENDPOINT}/output/*",
        _stack_key_arn(prod),
        repo["repositoryArn"],
        f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/{ENDPOINT}",
        f"arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/{ENDPOINT}"
        ":log-stream:*",
        # Batch Transform's logs: SageMaker's one group for every transform job.
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TransformJobs",
        "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TransformJobs:log-stream:*",
    }
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = _as_list(statement["Action"])
        assert not any(a == "*" or a.endswith(":*") for a in actions), actions
        resources = set(_as_list(statement["Resource"]))
        if resources == {"*"} and set(actions) <= set(CONDITION_SCOPED_ACTIONS):
            # No resource to name: the condition key is the scope, and it must be there.
            keys = {k for block in statement["Condition"].values() for k in block}
            assert {CONDITION_SCOPED_ACTIONS[a] for a in actions} <= keys, statement
        elif resources == {"*"}:
            assert set(actions) <= set(TOKEN_ONLY_ACTIONS), actions
        else:
            assert resources <= own, resources - own
    trust = prod.client("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    (assume,) = trust["Statement"]
    assert assume["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert assume["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}


def test_execution_role_reads_its_rollback_alarms(prod) -> None:
    # Deployment guardrails: "Ensure that your IAM execution role has permission to perform
    # the cloudwatch:DescribeAlarms action on the auto-rollback alarms you specify"
    # (sagemaker/latest/dg/deployment-guardrails-configuration.html).
    _, document = _execution_role(prod)
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    alarm_names = {f"{ENDPOINT}-primary-latency-p99", f"{ENDPOINT}-primary-5xx-rate"}
    cloudwatch = prod.client("cloudwatch")
    arns = {
        a["AlarmArn"]
        for a in cloudwatch.describe_alarms(AlarmNames=sorted(alarm_names))["MetricAlarms"]
    }
    assert len(arns) == len(alarm_names)
    assert by_sid["ReadRollbackAlarms"]["Action"] == "cloudwatch:DescribeAlarms"
    assert set(_as_list(by_sid["ReadRollbackAlarms"]["Resource"])) == arns


def test_execution_role_publishes_instance_metrics_and_creates_its_log_group(prod) -> None:
    # SageMaker's CreateModel execution-role policy lists cloudwatch:PutMetricData and
    # logs:CreateLogGroup/CreateLogStream/PutLogEvents/DescribeLogStreams
    # (sagemaker/latest/dg/sagemaker-roles.html); PutMetricData takes no resource, so the
    # cloudwatch:namespace condition scopes it to SageMaker's namespaces.
    _, document = _execution_role(prod)
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    metrics = by_sid["PublishInstanceMetrics"]
    assert metrics["Action"] == "cloudwatch:PutMetricData"
    assert metrics["Resource"] == "*"
    assert metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}}
    assert {
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "logs:DescribeLogStreams",
    } <= set(_as_list(by_sid["WriteOwnLogs"]["Action"]))


def test_no_rollback_alarm_grant_without_auto_rollback(deploy, spec_for) -> None:
    spec = spec_for(
        {
            "rollout": {"auto_rollback": False},
            "scaling": {"schedules": []},
            "gateway": {"waf": False},
        }
    )
    deployed = deploy(spec, name="noroll")
    _, document = _execution_role_of(deployed, "noroll-test")
    assert "ReadRollbackAlarms" not in {s["Sid"] for s in document["Statement"]}


def _trust(deployed, role_arn: str) -> dict[str, Any]:
    role = role_arn.rpartition("/")[2]
    return deployed.client("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]


# The trust policy API Gateway documents for an AWS-service integration's credentials role
# ("Control access to a REST API with IAM permissions",
# apigateway/latest/developerguide/permissions.html) and for the account's CloudWatch
# logging role ("Set up CloudWatch logging for REST APIs in API Gateway",
# apigateway/latest/developerguide/set-up-logging.html): the service principal and
# sts:AssumeRole, no condition. API Gateway sends no aws:SourceAccount when it assumes
# these roles, so any such condition refuses every call (HTTP 500 on every invoke).
DOCUMENTED_APIGATEWAY_TRUST = {
    "Effect": "Allow",
    "Principal": {"Service": "apigateway.amazonaws.com"},
    "Action": "sts:AssumeRole",
}


def test_gateway_integration_role_trusts_api_gateway_as_documented(prod) -> None:
    apigw = prod.client("apigateway")
    api = prod.ids("aws:apigateway/restApi:RestApi")[0]
    resource = next(
        r for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/invocations"
    )
    integration = apigw.get_integration(restApiId=api, resourceId=resource["id"], httpMethod="POST")
    (statement,) = _trust(prod, integration["credentials"])["Statement"]
    assert statement == DOCUMENTED_APIGATEWAY_TRUST


def test_account_logging_role_trusts_api_gateway_as_documented(deploy, spec_for) -> None:
    spec = spec_for(
        {
            "targets": {"aws": {"manage_account_logging": True}},
            "scaling": {"schedules": []},
            "gateway": {"waf": False},
        }
    )
    deployed = deploy(spec, name="logging")
    role_arn = deployed.client("apigateway").get_account()["cloudwatchRoleArn"]
    (statement,) = _trust(deployed, role_arn)["Statement"]
    assert statement == DOCUMENTED_APIGATEWAY_TRUST


def test_reads_only_artifacts_and_writes_only_own_prefixes(prod) -> None:
    _, document = _execution_role(prod)
    by_sid = {s["Sid"]: s for s in document["Statement"]}
    assert by_sid["ReadArtifacts"]["Action"] == "s3:GetObject"
    batch = f"arn:aws:s3:::{_bucket(prod)}/batch/{ENDPOINT}"
    assert sorted(_as_list(by_sid["ReadArtifacts"]["Resource"])) == sorted(
        [
            f"arn:aws:s3:::{_bucket(prod)}/models/churn/1.2.0/model.tar.gz",
            f"{batch}/input/*",  # Batch Transform's input (`inferstack score --stack`)
        ]
    )
    assert by_sid["WriteOwnPrefixes"]["Action"] == "s3:PutObject"
    # A realtime endpoint writes data capture and batch results only (async prefixes are
    # for async mode).
    assert sorted(_as_list(by_sid["WriteOwnPrefixes"]["Resource"])) == sorted(
        [f"{batch}/output/*", f"arn:aws:s3:::{_bucket(prod)}/capture/{ENDPOINT}/*"]
    )


def test_gateway_role_invokes_only_this_endpoint(prod) -> None:
    apigw = prod.client("apigateway")
    api = prod.ids("aws:apigateway/restApi:RestApi")[0]
    resource = next(
        r for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/invocations"
    )
    integration = apigw.get_integration(restApiId=api, resourceId=resource["id"], httpMethod="POST")
    assert integration["type"] == "AWS"
    assert integration["uri"] == (
        f"arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/{ENDPOINT}/invocations"
    )
    role = integration["credentials"].rpartition("/")[2]
    iam = prod.client("iam")
    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
    endpoint_arn = prod.client("sagemaker").describe_endpoint(EndpointName=ENDPOINT)["EndpointArn"]
    assert document["Statement"] == [
        {
            "Sid": "InvokeOwnEndpoint",
            "Effect": "Allow",
            "Action": "sagemaker:InvokeEndpoint",
            "Resource": endpoint_arn,
        }
    ]


def test_api_requires_a_key_and_the_key_is_in_the_usage_plan(prod) -> None:
    apigw = prod.client("apigateway")
    api_id = prod.ids("aws:apigateway/restApi:RestApi")[0]
    api = apigw.get_rest_api(restApiId=api_id)
    assert api["apiKeySource"] == "HEADER"
    assert api["endpointConfiguration"]["types"] == ["REGIONAL"]
    resource = next(
        r for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/invocations"
    )
    method = apigw.get_method(restApiId=api_id, resourceId=resource["id"], httpMethod="POST")
    assert method["apiKeyRequired"] is True
    (plan,) = [p for p in apigw.get_usage_plans()["items"] if p["apiStages"][0]["apiId"] == api_id]
    assert plan["apiStages"] == [{"apiId": api_id, "stage": "prod"}]
    assert plan["throttle"] == {"rateLimit": 50.0, "burstLimit": 100}
    assert plan["quota"]["limit"] == 100000
    assert plan["quota"]["period"] == "DAY"
    (key,) = apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]
    value = apigw.get_api_key(apiKey=key["id"], includeValue=True)["value"]
    assert value == prod.outputs["api_key"]


def test_api_key_is_a_secret_output(deploy, spec_for) -> None:
    import pulumi

    from inferstack.components.aws import AwsEndpoint
    from inferstack.components.testing import MotoMocks, run_program

    def program() -> Any:
        endpoint = AwsEndpoint("secret", spec_for())
        return endpoint.api_key.is_secret()

    assert run_program(lambda: pulumi.Output.from_input(program()), MotoMocks()) is True


def test_stage_logs_json_throttles_and_traces(prod) -> None:
    apigw = prod.client("apigateway")
    api_id = prod.ids("aws:apigateway/restApi:RestApi")[0]
    stage = apigw.get_stage(restApiId=api_id, stageName="prod")
    logs = stage["accessLogSettings"]
    assert logs["destinationArn"].endswith(f"log-group:/aws/apigateway/{ENDPOINT}/access")
    assert json.loads(logs["format"])["status"] == "$context.status"
    settings = stage["methodSettings"]["*/*"]
    assert settings["throttlingRateLimit"] == 50.0
    assert settings["throttlingBurstLimit"] == 100
    assert settings["dataTraceEnabled"] is False
    assert stage["tracingEnabled"] is True


def test_execution_log_group_exists_first_with_retention_and_the_stack_key(prod) -> None:
    # Execution logging is on (ERROR); without this group API Gateway creates its own,
    # unencrypted and never expiring.
    api_id = prod.ids("aws:apigateway/restApi:RestApi")[0]
    name = f"API-Gateway-Execution-Logs_{api_id}/prod"
    (group,) = prod.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert group["retentionInDays"] == 90
    assert group["kmsKeyId"] == _stack_key_arn(prod)
    # MethodSettings turns logging on, so it waits for the group.
    created = [(typ, rid) for typ, _, rid in prod.mocks.resources]
    settings = next(
        n for n, (typ, _) in enumerate(created) if typ.endswith("methodSettings:MethodSettings")
    )
    assert created.index(("aws:cloudwatch/logGroup:LogGroup", name)) < settings


def test_api_resource_policy_limits_source_cidrs(prod) -> None:
    apigw = prod.client("apigateway")
    api = apigw.get_rest_api(restApiId=prod.ids("aws:apigateway/restApi:RestApi")[0])
    policy = (
        json.loads(api["policy"].replace('\\"', '"'))
        if isinstance(api["policy"], str)
        else api["policy"]
    )
    deny = next(s for s in policy["Statement"] if s["Effect"] == "Deny")
    assert deny["Condition"] == {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8"]}}


def test_waf_guards_the_stage(prod) -> None:
    waf = prod.client("wafv2")
    (acl,) = [
        a for a in waf.list_web_acls(Scope="REGIONAL")["WebACLs"] if a["Name"] == f"{ENDPOINT}-waf"
    ]
    api_id = prod.ids("aws:apigateway/restApi:RestApi")[0]
    stage_arn = f"arn:aws:apigateway:us-east-1::/restapis/{api_id}/stages/prod"
    assert waf.get_web_acl_for_resource(ResourceArn=stage_arn)["WebACL"]["ARN"] == acl["ARN"]
    rules = waf.get_web_acl(Name=acl["Name"], Scope="REGIONAL", Id=acl["Id"])["WebACL"]["Rules"]
    assert {r["Name"] for r in rules} >= {"AWSManagedRulesCommonRuleSet", "per-ip-rate"}


def test_image_repository_is_private_encrypted_and_scanned(prod) -> None:
    (repo,) = prod.client("ecr").describe_repositories(repositoryNames=[f"inferstack/{ENDPOINT}"])[
        "repositories"
    ]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    assert repo["encryptionConfiguration"]["encryptionType"] == "KMS"
    assert repo["encryptionConfiguration"]["kmsKey"] == _stack_key_arn(prod)


def test_image_repository_name_is_lower_case_for_any_stack_name(deploy, spec_for) -> None:
    # Stack names may hold capitals; ECR repository names may not.
    spec = spec_for({"scaling": {"schedules": []}, "gateway": {"waf": False}})
    deployed = deploy(spec, name="casing", stack="Prod-EU")
    (repo,) = deployed.client("ecr").describe_repositories(
        repositoryNames=["inferstack/casing-prod-eu"]
    )["repositories"]
    assert repo["repositoryName"] == "inferstack/casing-prod-eu"
