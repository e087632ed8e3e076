"""Every physical name the AWS stack sets, or leaves to Pulumi's auto-naming, fits the
AWS rule of its resource type (aws/naming.py) for the longest names the spec accepts:
a 40-character model name, 40-character A/B variant and schedule names, and a long
stack name, in prod (canary, WAF, alarms, API key, account logging), serverless and
async (JWT) modes. The plan runs under the offline plan's mocks, whose auto-names are
Pulumi's (`<logical>-<7 hex>`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from inferstack.components.aws import AwsEndpoint, AwsEndpointOptions
from inferstack.components.aws.common import names_for, physical_name
from inferstack.components.aws.endpoint_provider import KIND
from inferstack.components.aws.naming import (
    ECR_REPOSITORY,
    NAME_RULES,
    S3_BUCKET,
    SAGEMAKER_ENDPOINT,
    SAGEMAKER_MODEL,
    NameRule,
    auto_logical,
    fit,
)
from inferstack.components.aws.plan_fakes import pulumi_auto_name
from inferstack.components.errors import SpecError
from inferstack.components.plan.mocks import PlanMocks
from inferstack.components.plan.run import Plan, PlannedResource, run_under_mocks

MODEL = "m" + "-long-model-name-for-naming-tests" + "x" * 6  # 40, the spec's longest
VARIANT = "challenger-" + "v" * 29  # 40
SCHEDULE = "weekday-nights-" + "s" * 25  # 40
# Pulumi stack names take up to 100 letters, digits, '-', '_' and '.'.
STACK = ("Prod_eu-west-1.team-" * 5)[:100]
assert len(MODEL) == len(VARIANT) == len(SCHEDULE) == 40

# Types that take no name of their own (ids, attachments, or names AWS fixes).
UNNAMED = {
    "aws:kms/key:Key",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketObjectv2:BucketObjectv2",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy",
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:appautoscaling/target:Target",
    "aws:apigateway/account:Account",
    "aws:apigateway/resource:Resource",
    "aws:apigateway/method:Method",
    "aws:apigateway/methodResponse:MethodResponse",
    "aws:apigateway/integration:Integration",
    "aws:apigateway/integrationResponse:IntegrationResponse",
    "aws:apigateway/deployment:Deployment",
    "aws:apigateway/methodSettings:MethodSettings",
    "aws:apigateway/usagePlanKey:UsagePlanKey",
    "aws:apigateway/restApiPolicy:RestApiPolicy",
    "aws:wafv2/webAclAssociation:WebAclAssociation",
}
# API Gateway names its execution log group itself (API-Gateway-Execution-Logs_<id>/<stage>).
AWS_FIXED = {"API-Gateway-Execution-Logs_"}


def _variants(n: int) -> list[dict[str, Any]]:
    return [
        {"name": f"{VARIANT[:-1]}{i}", "model_version": "1.2.0", "weight": 1, "replicas": 1}
        for i in range(n)
    ]


def _schedules(n: int) -> list[dict[str, Any]]:
    return [
        {
            "name": f"{SCHEDULE[:-1]}{i}",
            "cron": f"0 {20 + i} * * 1-5",
            "min_replicas": 2,
            "max_replicas": 2,
            "timezone": "Europe/Paris",
        }
        for i in range(n)
    ]


CASES: dict[str, dict[str, Any]] = {
    "prod": {  # canary with rollback alarms, WAF, API key, schedules
        "model": {"name": MODEL},
        "scaling": {"schedules": _schedules(3)},
    },
    "prod-ab": {  # A/B variants (blue/green: a canary takes no variants)
        "model": {"name": MODEL},
        "scaling": {"schedules": _schedules(2)},
        "rollout": {"strategy": "blue_green", "variants": _variants(1), "primary_weight": 3},
    },
    "prod-many-variants": {
        "model": {"name": MODEL},
        "scaling": {"schedules": _schedules(2)},
        "rollout": {"strategy": "blue_green", "variants": _variants(3), "auto_rollback": False},
    },
    "serverless": {
        "model": {"name": MODEL},
        "compute": {"accelerator": "none"},
        "scaling": {"schedules": []},
        "rollout": {"strategy": "all_at_once"},  # serverless serves one variant
        "observability": {"data_capture_percent": 0},
        "targets": {"aws": {"mode": "serverless"}},
    },
    "async-jwt": {
        "model": {"name": MODEL},
        "scaling": {"min_replicas": 0, "schedules": _schedules(2)},
        "rollout": {"strategy": "blue_green", "variants": _variants(1), "auto_rollback": False},
        "gateway": {
            "auth": "jwt",
            "waf": False,
            "jwt": {
                "issuer": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Abc",
                "audience": "client-id",
            },
        },
        "targets": {"aws": {"mode": "async"}},
    },
}


def plan_of(spec_for, changes: dict[str, Any], stack: str = STACK) -> Plan:
    spec = spec_for(changes)
    options = AwsEndpointOptions(manage_account_logging=True)
    return run_under_mocks(
        lambda: AwsEndpoint(spec.model.name, spec, options=options),
        mocks=PlanMocks(["aws"]),
        stack=stack,
    )


def _field(inputs: dict[str, Any], path: str) -> Iterator[Any]:
    """The values at `path` (`a.b`, `a[].b`) in `inputs`; none when absent."""
    values: list[Any] = [inputs]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part.removesuffix("[]")
        nxt: list[Any] = []
        for value in values:
            if isinstance(value, dict) and value.get(key) is not None:
                nxt += list(value[key]) if many else [value[key]]
        values = nxt
    yield from values


def _rules_for(resource: PlannedResource) -> list[NameRule]:
    if resource.type == SAGEMAKER_ENDPOINT.token and resource.inputs.get("kind") != KIND:
        return []
    return [r for r in NAME_RULES if r.token == resource.type]


def named(plan: Plan) -> Iterator[tuple[PlannedResource, NameRule, str]]:
    """(resource, rule, physical name) for every name the plan sets or leaves to Pulumi."""
    for resource in plan.resources:
        for rule in _rules_for(resource):
            values = list(_field(resource.inputs, rule.field))
            if not values and rule.autonamed:
                values = [pulumi_auto_name(resource.type, resource.name, lower=rule.lower)]
            assert values, f"{resource.type} {resource.name}: no {rule.field}"
            for value in values:
                yield resource, rule, value


def problems_of(plan: Plan) -> list[str]:
    out = []
    for resource, rule, name in named(plan):
        if any(name.startswith(p) for p in AWS_FIXED):
            continue
        for problem in rule.problems(name):
            out.append(f"{rule.what} of {resource.name} ({rule.field}) {name!r}: {problem}")
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_physical_name_fits_its_aws_rule(spec_for, case: str) -> None:
    plan = plan_of(spec_for, CASES[case])
    assert problems_of(plan) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_aws_type_in_the_plan_has_a_name_rule_or_takes_no_name(spec_for, case) -> None:
    plan = plan_of(spec_for, CASES[case])
    ruled = {r.token for r in NAME_RULES}
    unknown = {
        r.type
        for r in plan.resources
        if r.type.startswith("aws:") and r.type not in ruled | UNNAMED
    }
    assert unknown == set()


def test_the_prod_case_names_what_the_limits_are_about(spec_for) -> None:
    plan = plan_of(spec_for, CASES["prod-ab"])
    seen = {(rule.what, resource.type) for resource, rule, _ in named(plan)}
    assert {w for w, _ in seen} >= {
        "SageMaker model name",
        "SageMaker endpoint name",
        "SageMaker endpoint configuration name",
        "SageMaker production variant name",
        "IAM role name",
        "S3 bucket name",
        "ECR repository name",
        "KMS alias name",
        "CloudWatch alarm name",
        "CloudWatch Logs log group name",
        "SNS topic name",
        "WAF web ACL name",
        "Application Auto Scaling scheduled action name",
        "API Gateway API key name",
        "API Gateway usage plan name",
    }


def test_names_stay_the_same_across_runs_and_apart_across_variants(spec_for) -> None:
    first, second = (plan_of(spec_for, CASES["prod-many-variants"]) for _ in range(2))
    names = [n for _, _, n in named(first)]
    assert names == [n for _, _, n in named(second)]
    models = [n for r, rule, n in named(first) if rule is SAGEMAKER_MODEL]
    assert len(models) == len(set(models)) == 4


def test_short_names_are_kept_as_they_are(spec_for) -> None:
    # A deployed stack with short names is not renamed: the committed stacks' names.
    plan = plan_of(spec_for, {"model": {"name": "churn"}}, stack="test")
    by_rule = {rule.what: (r.name, n) for r, rule, n in named(plan)}
    assert by_rule["SageMaker endpoint name"][1] == "churn-test"
    assert by_rule["ECR repository name"][1] == "inferstack/churn-test"
    assert by_rule["KMS alias name"][1] == "alias/inferstack/churn-test"
    assert by_rule["SNS topic name"][1] == "churn-test-alarms"
    assert by_rule["S3 bucket name"][0] == "churn-artifacts-bucket"
    assert by_rule["IAM role name"][0].startswith("churn-")
    models = sorted(r.name for r, rule, _ in named(plan) if rule is SAGEMAKER_MODEL)
    assert models == ["churn-sagemaker-model-primary"]


def test_fit_keeps_a_fitting_name_and_shortens_a_long_one_with_a_hash() -> None:
    assert fit(SAGEMAKER_ENDPOINT, "churn", "prod-aws") == "churn-prod-aws"
    long = fit(SAGEMAKER_ENDPOINT, MODEL, STACK)
    assert len(long) <= 63
    assert not SAGEMAKER_ENDPOINT.problems(long)
    assert long == fit(SAGEMAKER_ENDPOINT, MODEL, STACK)
    assert long != fit(SAGEMAKER_ENDPOINT, MODEL, STACK[:-1] + "x")
    assert re.fullmatch(r".+-[0-9a-f]{8}", long)
    # physical_name is the endpoint's rule: the same names as before this module.
    assert physical_name(MODEL, STACK) == long
    assert physical_name("churn-logreg", "prod-aws") == "churn-logreg-prod-aws"


def test_fit_cleans_characters_a_rule_refuses() -> None:
    assert fit(ECR_REPOSITORY, "inferstack/Churn--Prod_aws") == "inferstack/churn-prod_aws"
    assert fit(ECR_REPOSITORY, "inferstack/churn-.prod") == "inferstack/churn-prod"
    assert fit(SAGEMAKER_ENDPOINT, "churn", "prod_eu.1") == "churn-prod-eu-1"
    assert auto_logical(S3_BUCKET, "xn--model-artifacts-bucket").startswith("xxn--")


def test_auto_logical_leaves_room_for_pulumis_suffix() -> None:
    short = "churn-sagemaker-model-primary"
    assert auto_logical(SAGEMAKER_MODEL, short) == short
    logical = auto_logical(SAGEMAKER_MODEL, f"{MODEL}-sagemaker-model-{VARIANT}")
    assert len(pulumi_auto_name(SAGEMAKER_MODEL.token, logical)) == 63


def test_a_variant_name_sagemaker_refuses_is_refused_before_anything_deploys(spec_for) -> None:
    variant = {"name": "b-", "model_version": "1.2.0", "weight": 1}
    changes = {"rollout": {"strategy": "blue_green", "variants": [variant]}}
    with pytest.raises(SpecError, match=r"rollout\.variants\.0\.name: 'b-'"):
        plan_of(spec_for, changes, stack="test")


def test_endpoint_names_of_two_long_stacks_differ(spec_for) -> None:
    spec = spec_for({"model": {"name": MODEL}})
    a = names_for(MODEL, spec, stack=STACK).endpoint
    b = names_for(MODEL, spec, stack=STACK[:-1] + "Z").endpoint
    assert a != b
    assert len(a) <= 63
    assert len(b) <= 63
