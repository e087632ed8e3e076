"""The policy rules on hand-made resources: each rule catches its fault and passes the fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from inferstack.policies import RULES, Subject, evaluate

# The security rules; the guardrails (cost tags, capacity) have their own tests.
SECURITY_RULES = tuple(r for r in RULES if not r.name.startswith("guardrail-"))

BUCKET = Subject("aws:s3/bucket:Bucket", "artifacts", {})
KMS_SSE = Subject(
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "artifacts-sse",
    {
        "rules": [
            {
                "applyServerSideEncryptionByDefault": {
                    "sseAlgorithm": "aws:kms",
                    "kmsMasterKeyId": "arn:key",
                }
            }
        ]
    },
)
BLOCK = Subject(
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "artifacts-pab",
    {
        "blockPublicAcls": True,
        "blockPublicPolicy": True,
        "ignorePublicAcls": True,
        "restrictPublicBuckets": True,
    },
)


def names(resources: list[Subject]) -> list[str]:
    return [v.policy for v in evaluate(resources, SECURITY_RULES)]


def iam(statement: dict[str, Any]) -> Subject:
    document = {"Version": "2012-10-17", "Statement": [statement]}
    return Subject("aws:iam/rolePolicy:RolePolicy", "role-policy", {"policy": json.dumps(document)})


def test_a_secure_bucket_passes() -> None:
    assert names([BUCKET, KMS_SSE, BLOCK]) == []


def test_bucket_without_kms_encryption_fails() -> None:
    aes = Subject(
        KMS_SSE.type,
        "sse",
        {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
    )
    assert names([BUCKET, aes, BLOCK]) == ["s3-encrypted-with-kms"]


def test_bucket_without_public_access_block_fails() -> None:
    half = Subject(BLOCK.type, "pab", {**BLOCK.props, "restrictPublicBuckets": False})
    assert names([BUCKET, KMS_SSE, half]) == ["s3-no-public-access"]


def test_endpoint_config_without_kms_fails() -> None:
    token = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
    assert names([Subject(token, "cfg", {"kmsKeyArn": "arn:key"})]) == []
    cpu = {"productionVariants": [{"instanceType": "ml.c6i.xlarge"}]}
    violations = evaluate([Subject(token, "cfg", cpu)], SECURITY_RULES)
    assert [(v.policy, v.resource) for v in violations] == [("sagemaker-kms", "cfg")]


@pytest.mark.parametrize(
    "variant", [{"instanceType": "ml.g5.xlarge"}, {"serverlessConfig": {"memorySizeInMb": 2048}}]
)
def test_keyless_sagemaker_storage_needs_no_kms_key(variant: dict[str, Any]) -> None:
    """Instance-store families and serverless endpoints refuse a volume key."""
    token = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
    assert names([Subject(token, "cfg", {"productionVariants": [variant]})]) == []


@pytest.mark.parametrize(
    ("props", "ok"),
    [
        ({"httpMethod": "POST", "authorization": "NONE", "apiKeyRequired": True}, True),
        ({"httpMethod": "POST", "authorization": "AWS_IAM"}, True),
        ({"httpMethod": "OPTIONS", "authorization": "NONE"}, True),
        ({"httpMethod": "POST", "authorization": "NONE"}, False),
    ],
)
def test_api_methods_need_a_key_or_authorizer(props: dict[str, Any], ok: bool) -> None:
    found = names([Subject("aws:apigateway/method:Method", "invoke", props)])
    assert found == ([] if ok else ["api-auth-required"])


def test_log_groups_need_retention() -> None:
    token = "aws:cloudwatch/logGroup:LogGroup"
    assert names([Subject(token, "logs", {"retentionInDays": 30})]) == []
    assert names([Subject(token, "logs", {})]) == ["log-retention"]


def test_iam_scoped_policy_passes() -> None:
    assert (
        names(
            [
                iam(
                    {
                        "Effect": "Allow",
                        "Action": ["s3:GetObject"],
                        "Resource": ["arn:aws:s3:::bucket/models/*"],
                    }
                )
            ]
        )
        == []
    )
    assert (
        names([iam({"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"})])
        == []
    )


@pytest.mark.parametrize(
    ("statement", "hint"),
    [
        ({"Effect": "Allow", "Action": "*", "Resource": "arn:x"}, "wildcard action"),
        ({"Effect": "Allow", "Action": "s3:*", "Resource": "arn:x"}, "wildcard action"),
        ({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, "can be scoped"),
    ],
)
def test_iam_wildcards_fail(statement: dict[str, Any], hint: str) -> None:
    violations = evaluate([iam(statement)], SECURITY_RULES)
    assert [v.policy for v in violations] == ["iam-least-privilege"]
    assert hint in violations[0].message


def test_iam_deny_statements_may_use_wildcards() -> None:
    assert names([iam({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})]) == []


def test_local_ports_must_be_on_loopback() -> None:
    token = "docker:index/container:Container"
    assert (
        names(
            [
                Subject(
                    token, "c", {"ports": [{"internal": 8080, "external": 8080, "ip": "127.0.0.1"}]}
                )
            ]
        )
        == []
    )
    violations = evaluate(
        [Subject(token, "c", {"ports": [{"internal": 8080, "external": 8080}]})], SECURITY_RULES
    )
    assert [v.policy for v in violations] == ["local-loopback-only"]
    assert "all interfaces" in violations[0].message


def test_rule_names_are_unique_and_described() -> None:
    assert len({r.name for r in RULES}) == len(RULES)
    assert all(r.description.endswith(".") for r in RULES)


def test_crossguard_pack_reports_through_pulumi_policy(
    monkeypatch: pytest.MonkeyPatch, project_root: Any
) -> None:
    """Load policies/__main__.py as the Pulumi CLI would, without its blocking gRPC server."""
    import runpy

    import pulumi_policy

    packs: list[dict[str, Any]] = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kw: packs.append(kw))
    runpy.run_path(str(project_root / "policies" / "__main__.py"))
    (pack,) = packs
    assert pack["name"] == "inferstack"
    by_name = {p.name: p for p in pack["policies"]}
    assert set(by_name) == {r.name for r in RULES}

    resource = pulumi_policy.PolicyResource(
        resource_type="aws:cloudwatch/logGroup:LogGroup",
        props={},
        urn="urn:logs",
        name="logs",
        opts=None,
        provider=None,
        parent=None,
        dependencies=[],  # type: ignore[arg-type]
        property_dependencies={},
    )
    reported: list[tuple[str, str | None]] = []
    by_name["log-retention"].validate(
        pulumi_policy.StackValidationArgs([resource]),
        lambda message, urn=None: reported.append((message, urn)),
    )
    assert reported == [("log group keeps logs forever: set retentionInDays", "urn:logs")]


def test_sns_topics_must_be_encrypted() -> None:
    token = "aws:sns/topic:Topic"
    assert names([Subject(token, "alarms", {"kmsMasterKeyId": "arn:key"})]) == []
    assert names([Subject(token, "alarms", {})]) == ["sns-encrypted"]


@pytest.mark.parametrize(
    ("props", "hint"),
    [
        (
            {"imageTagMutability": "MUTABLE", "imageScanningConfiguration": {"scanOnPush": True}},
            "mutable",
        ),
        ({"imageTagMutability": "IMMUTABLE"}, "not scanned"),
    ],
)
def test_ecr_repositories_are_immutable_and_scanned(props: dict[str, Any], hint: str) -> None:
    token = "aws:ecr/repository:Repository"
    good = {"imageTagMutability": "IMMUTABLE", "imageScanningConfiguration": {"scanOnPush": True}}
    assert names([Subject(token, "repo", good)]) == []
    violations = evaluate([Subject(token, "repo", props)], SECURITY_RULES)
    assert [v.policy for v in violations] == ["ecr-immutable-scanned"]
    assert hint in violations[0].message


def test_endpoints_without_auto_rollback_get_an_advisory() -> None:
    token = "aws:sagemaker/endpoint:Endpoint"
    rollback = {"autoRollbackConfiguration": {"alarms": [{"alarmName": "p99"}]}}
    assert names([Subject(token, "ep", {"deploymentConfig": rollback})]) == []
    (violation,) = evaluate([Subject(token, "ep", {})], SECURITY_RULES)
    assert (violation.policy, violation.enforcement) == ("sagemaker-auto-rollback", "advisory")


def test_the_dynamic_endpoint_without_auto_rollback_gets_the_same_advisory() -> None:
    """inferstack's endpoint is a dynamic resource (aws/endpoint_provider.py): the rule
    reads its `kind` and UpdateEndpoint-shaped deployment_config."""
    token = "pulumi-python:dynamic:Resource"
    rollback = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "p99"}]}}
    watched = {"kind": "sagemaker-endpoint", "deployment_config": rollback}
    assert names([Subject(token, "ep", watched)]) == []
    for props in (
        {"kind": "sagemaker-endpoint", "deployment_config": None},
        {"kind": "sagemaker-endpoint", "deployment_config": {"BlueGreenUpdatePolicy": {}}},
    ):
        (violation,) = evaluate([Subject(token, "ep", props)], SECURITY_RULES)
        assert (violation.policy, violation.resource) == ("sagemaker-auto-rollback", "ep")
    # Another dynamic resource is not an endpoint.
    assert names([Subject(token, "other", {"kind": "something-else"})]) == []


def test_the_vpc_execution_role_passes_least_privilege() -> None:
    """SageMaker assumes the role to create ENIs, so no aws:CalledVia condition may gate it."""
    from inferstack.components.aws.policies import execution_role_policy

    document = execution_role_policy(
        artifact_arns=["arn:aws:s3:::b/models/m/1.0.0/model.tar.gz"],
        write_prefix_arns=["arn:aws:s3:::b/capture/*"],
        key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
        repository_arn="arn:aws:ecr:us-east-1:123456789012:repository/r",
        log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/e",
        vpc=True,
    )
    assert "CalledVia" not in json.dumps(document)
    subject = Subject(
        "aws:iam/rolePolicy:RolePolicy", "execution", {"policy": json.dumps(document)}
    )
    assert names([subject]) == []


def test_condition_scoped_actions_pass_with_their_key_only() -> None:
    """cloudwatch:PutMetricData takes no resource: "*" is its only form, and the
    cloudwatch:namespace condition is what scopes it."""
    scoped = {
        "Effect": "Allow",
        "Action": "cloudwatch:PutMetricData",
        "Resource": "*",
        "Condition": {"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*"]}},
    }
    assert names([iam(scoped)]) == []
    bare = {k: v for k, v in scoped.items() if k != "Condition"}
    (violation,) = evaluate([iam(bare)], SECURITY_RULES)
    assert violation.policy == "iam-least-privilege"
    assert "cloudwatch:namespace" in violation.message
    other_key = {**scoped, "Condition": {"StringEquals": {"aws:SourceAccount": "1"}}}
    assert names([iam(other_key)]) == ["iam-least-privilege"]
    # The condition scopes PutMetricData only: another action beside it is still refused.
    mixed = {**scoped, "Action": ["cloudwatch:PutMetricData", "s3:GetObject"]}
    assert names([iam(mixed)]) == ["iam-least-privilege"]


def test_the_execution_role_with_metrics_and_alarms_passes_least_privilege() -> None:
    from inferstack.components.aws.policies import execution_role_policy

    document = execution_role_policy(
        artifact_arns=["arn:aws:s3:::b/models/m/1.0.0/model.tar.gz"],
        write_prefix_arns=["arn:aws:s3:::b/capture/*"],
        key_arn="arn:aws:kms:us-east-1:123456789012:key/k",
        repository_arn="arn:aws:ecr:us-east-1:123456789012:repository/r",
        log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/e",
        alarm_arns=["arn:aws:cloudwatch:us-east-1:123456789012:alarm:e-primary-latency-p99"],
    )
    actions = {
        a
        for s in document["Statement"]
        for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert {
        "cloudwatch:PutMetricData",
        "cloudwatch:DescribeAlarms",
        "logs:CreateLogGroup",
    } <= actions
    subject = Subject(
        "aws:iam/rolePolicy:RolePolicy", "execution", {"policy": json.dumps(document)}
    )
    assert names([subject]) == []
