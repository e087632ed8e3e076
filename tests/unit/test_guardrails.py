"""Cost and reliability guardrails: each catches its too-costly or unsafe fixture and passes
its clean one; thresholds and enforcement come from the stack's policy config."""

from __future__ import annotations

import json
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from inferstack.policies import RULES, Subject, evaluate
from inferstack.policies.base import PolicyConfigError
from inferstack.policies.rules import config_file, load_config

ROOT = Path(__file__).resolve().parents[2]
PLAN = (sys.executable, "-m", "inferstack.components.cli", "plan")
GUARDRAILS = tuple(r for r in RULES if r.name.startswith("guardrail-"))
TAGS = {"owner": "ml", "cost-center": "cc-1", "environment": "prod", "inferstack:environment": ""}


def tags(env: str, **changes: str | None) -> dict[str, str]:
    values = {**TAGS, "inferstack:environment": env, "environment": env, **changes}
    return {k: v for k, v in values.items() if v is not None}


def variant(
    instance_type: str = "ml.g5.xlarge", low: int = 2, high: int = 4, env: str = "prod"
) -> list[Subject]:
    """A SageMaker endpoint config with one variant, its scaling range, its rollback."""
    return [
        Subject(
            "aws:sagemaker/endpointConfiguration:EndpointConfiguration",
            "config",
            {
                "productionVariants": [{"variantName": "primary", "instanceType": instance_type}],
                "tags": tags(env),
            },
        ),
        Subject(
            "aws:appautoscaling/target:Target",
            "scaling",
            {
                "serviceNamespace": "sagemaker",
                "resourceId": "endpoint/churn/variant/primary",
                "minCapacity": low,
                "maxCapacity": high,
                "tags": tags(env),
            },
        ),
        Subject(
            "pulumi-python:dynamic:Resource",
            "endpoint",
            {
                "kind": "sagemaker-endpoint",
                "deployment_config": {
                    "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "a"}]}
                },
                "tags": tags(env),
            },
        ),
        Subject(
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            "latency",
            {"alarmActions": ["arn:aws:sns:us-east-1:1:alarms"], "tags": tags(env)},
        ),
    ]


def group(
    base: int = 1, percentage: int = 0, subnets: int = 2, env: str = "prod", high: int = 6
) -> Subject:
    """An EC2 Auto Scaling group with a mixed instances policy."""
    return Subject(
        "aws:autoscaling/group:Group",
        "group",
        {
            "minSize": 2,
            "maxSize": high,
            "vpcZoneIdentifiers": [f"subnet-{i}" for i in range(subnets)],
            "mixedInstancesPolicy": {
                "instancesDistribution": {
                    "onDemandBaseCapacity": base,
                    "onDemandPercentageAboveBaseCapacity": percentage,
                },
                "launchTemplate": {"overrides": [{"instanceType": "g5.xlarge"}]},
            },
            "instanceRefresh": {"preferences": {"autoRollback": True}},
            "tags": tags(env),
        },
    )


def found(resources: list[Subject], config: dict[str, Any] | None = None) -> set[str]:
    return {v.policy for v in evaluate(resources, GUARDRAILS, config)}


def test_the_clean_prod_fixture_passes_every_guardrail() -> None:
    assert found([*variant(), group()]) == set()


@pytest.mark.parametrize(
    ("resources", "policy"),
    [
        (variant("ml.p4d.24xlarge", env="dev", low=1), "guardrail-instance-types"),
        (variant(high=41), "guardrail-max-instances"),
        (variant(env="dev", low=1, high=5), "guardrail-max-instances"),
        ([group(base=0)], "guardrail-spot-in-prod"),
        (variant(low=1), "guardrail-prod-redundancy"),
        ([group(subnets=1)], "guardrail-prod-redundancy"),
    ],
)
def test_each_capacity_guardrail_catches_its_fixture(resources: list[Subject], policy: str) -> None:
    assert policy in found(resources)


def test_a_big_gpu_type_is_fine_in_prod_and_not_in_dev() -> None:
    assert "guardrail-instance-types" not in found(variant("ml.p4d.24xlarge"))
    (violation,) = evaluate(variant("ml.p4d.24xlarge", env="dev", low=1), GUARDRAILS)
    assert violation.resource == "config"
    assert "ml.p4d.24xlarge is not allowed in dev" in violation.message


def test_missing_cost_tags_are_named_per_resource() -> None:
    resources = variant()
    untagged = Subject(
        "aws:s3/bucketV2:BucketV2", "bucket", {"tags": tags("prod", **{"cost-center": None})}
    )
    bare = Subject("aws:sns/topic:Topic", "topic", {})  # taggable, declared without tags
    not_taggable = Subject("aws:iam/rolePolicy:RolePolicy", "policy", {})
    violations = evaluate([*resources, untagged, bare, not_taggable], GUARDRAILS)
    by_resource = {v.resource: v.message for v in violations}
    assert set(by_resource) == {"bucket", "topic"}
    assert "missing cost tags cost-center" in by_resource["bucket"]
    assert "owner, cost-center, environment" in by_resource["topic"]


def test_prod_needs_alarms_that_notify_and_an_automatic_rollback() -> None:
    resources = variant()
    resources[2] = Subject(
        "pulumi-python:dynamic:Resource",
        "endpoint",
        {"kind": "sagemaker-endpoint", "deployment_config": {}, "tags": tags("prod")},
    )
    resources[3] = Subject(
        "aws:cloudwatch/metricAlarm:MetricAlarm", "latency", {"tags": tags("prod")}
    )
    messages = {(v.resource, v.message) for v in evaluate(resources, GUARDRAILS)}
    assert ("latency", "alarm notifies nobody (observability.notify_emails)") in messages
    assert ("endpoint", "updates do not roll back on alarms (rollout.auto_rollback)") in messages
    assert "guardrail-prod-safety-net" not in found([*variant(env="dev", low=1)[:2]]), (
        "dev needs no safety net"
    )


def test_config_sets_thresholds_environment_and_enforcement() -> None:
    resources = variant(high=6)
    assert "guardrail-max-instances" in found(
        resources, {"guardrail-max-instances": {"max_instances": 5}}
    )
    assert found(resources, {"guardrail-instance-types": {"allowed": ["ml.g6.*"]}}) == {
        "guardrail-instance-types"
    }
    # The environment in the config wins over the resources' tags.
    assert "guardrail-max-instances" in found(
        resources, {"guardrail-max-instances": {"environment": "dev"}}
    )
    advisory = evaluate(
        resources,
        GUARDRAILS,
        {"guardrail-max-instances": {"max_instances": 5, "enforcementLevel": "advisory"}},
    )
    assert [v.enforcement for v in advisory] == ["advisory"]
    assert (
        evaluate(
            resources,
            GUARDRAILS,
            {"guardrail-max-instances": {"max_instances": 5, "enforcementLevel": "disabled"}},
        )
        == []
    )


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"guardrail-max-instances": {"max_instances": 0}},
            "guardrail-max-instances.max_instances",
        ),
        ({"guardrail-max-instances": {"maximum": 3}}, "guardrail-max-instances.maximum"),
        ({"guardrail-spot-in-prod": {"enforcementLevel": "loud"}}, "'loud' is not mandatory"),
        ({"guardrail-typo": {}}, "unknown policies: guardrail-typo"),
    ],
)
def test_a_wrong_policy_config_names_the_setting(config: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyConfigError, match=message.replace(".", r"\.")):
        evaluate(variant(), GUARDRAILS, config)


def test_every_shipped_policy_config_is_valid(project_root: Path) -> None:
    configs = sorted((project_root / "policies" / "config").glob("*.json"))
    assert configs, "no shipped policy configs"
    stacks = {
        p.name[len("Pulumi.") : -len(".yaml")]
        for p in (project_root / "stacks").glob("Pulumi.*.yaml")
    }
    for path in configs:
        assert path.stem in stacks, f"{path.name} names no stack"
        evaluate(variant(), RULES, load_config(path))


def test_crossguard_gets_each_guardrails_schema_and_config(
    monkeypatch: pytest.MonkeyPatch, project_root: Path
) -> None:
    import pulumi_policy

    packs: list[dict[str, Any]] = []
    monkeypatch.setattr(pulumi_policy, "PolicyPack", lambda **kw: packs.append(kw))
    runpy.run_path(str(project_root / "policies" / "__main__.py"))
    by_name = {p.name: p for p in packs[0]["policies"]}
    policy = by_name["guardrail-max-instances"]
    assert policy.config_schema is not None
    assert policy.config_schema.properties["max_instances"]["anyOf"][0]["minimum"] == 1
    reported: list[str] = []
    resources = [
        pulumi_policy.PolicyResource(
            resource_type=s.type,
            props=s.props,
            urn=f"urn:{s.name}",
            name=s.name,
            opts=None,  # type: ignore[arg-type]
            provider=None,
            parent=None,
            dependencies=[],
            property_dependencies={},
        )
        for s in variant(high=6)
    ]
    policy.validate(
        pulumi_policy.StackValidationArgs(resources, {"max_instances": 5}),
        lambda message, urn=None: reported.append(f"{urn}: {message}"),
    )
    assert reported == ["urn:config: scales to 6 instances; prod allows at most 5"]


def test_plan_reads_the_stacks_policy_config(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    shutil.copytree(ROOT / "examples" / "logreg-20f", tmp_path / "examples" / "logreg-20f")
    config = config_file(tmp_path, "dev-aws")
    config.parent.mkdir(parents=True)
    config.write_text(json.dumps({"guardrail-max-instances": {"max_instances": 1}}))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "inferstack.components.cli",
            "plan",
            "dev-aws",
            "--project",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 3, result.stderr
    assert "mandatory guardrail-max-instances" in result.stderr
    assert "dev allows at most 1" in result.stderr

    config.write_text(json.dumps({"guardrail-max-instances": {"max_instances": "many"}}))
    broken = subprocess.run(
        [
            sys.executable,
            "-m",
            "inferstack.components.cli",
            "plan",
            "dev-aws",
            "--project",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert broken.returncode == 2
    assert "guardrail-max-instances.max_instances" in broken.stderr


def azure_deployment(high: int = 4, instance_type: str = "Standard_NC4as_T4_v3") -> list[Subject]:
    """A managed online deployment and its autoscale setting."""
    return [
        Subject(
            "azure-native:machinelearningservices:OnlineDeployment",
            "blue",
            {
                "deploymentName": "blue",
                "sku": {"capacity": 2},
                "properties": {"instanceType": instance_type},
                "tags": tags("prod"),
            },
        ),
        Subject(
            "azure-native:monitor:AutoscaleSetting",
            "autoscale-blue",
            {
                "targetResourceUri": "/subscriptions/s/.../onlineEndpoints/e/deployments/blue",
                "profiles": [{"capacity": {"minimum": "2", "maximum": str(high), "default": "2"}}],
                "tags": tags("prod"),
            },
        ),
        Subject(
            "azure-native:monitor:MetricAlert",
            "cpu",
            {"actions": [{"actionGroupId": "/ag"}], "tags": tags("prod")},
        ),
    ]


def gke_pools(base: int = 1, spot_min: int = 1, zones: int = 3) -> list[Subject]:
    """A spot and an on-demand serving pool, their Deployments and the stable HPA."""
    locations = [f"us-central1-{z}" for z in "abc"[:zones]]

    def pool(kind: str, spot: bool) -> Subject:
        return Subject(
            "gcp:container/nodePool:NodePool",
            f"pool-{kind}",
            {
                "nodeLocations": locations,
                "autoscaling": {"totalMinNodeCount": 0, "totalMaxNodeCount": 10},
                "nodeConfig": {
                    "machineType": "g2-standard-8",
                    "spot": spot,
                    "labels": {"inferstack.dev/capacity": kind},
                    "resourceLabels": tags("prod"),
                },
            },
        )

    def deployment(name: str, kind: str, replicas: int | None) -> Subject:
        labels = {
            "app.kubernetes.io/part-of": "inferstack",
            "inferstack.dev/track": "stable",
            "inferstack.dev/capacity": kind,
        }
        return Subject(
            "kubernetes:apps/v1:Deployment",
            name,
            {"metadata": {"name": name, "labels": labels}, "spec": {"replicas": replicas}},
        )

    hpa = Subject(
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "hpa",
        {"spec": {"scaleTargetRef": {"name": "flex"}, "minReplicas": spot_min, "maxReplicas": 9}},
    )
    alert = Subject(
        "gcp:monitoring/alertPolicy:AlertPolicy",
        "p99",
        {"notificationChannels": ["projects/p/notificationChannels/1"], "userLabels": tags("prod")},
    )
    return [
        alert,
        pool("spot", True),
        pool("on-demand", False),
        deployment("base", "on-demand", base),
        deployment("flex", "flex", None),
        hpa,
    ]


def test_azure_deployments_are_judged_at_their_autoscale_bounds() -> None:
    assert found(azure_deployment()) == set()
    (violation,) = evaluate(azure_deployment(high=41), GUARDRAILS)
    assert (violation.policy, violation.resource) == ("guardrail-max-instances", "blue")


def test_gke_serving_replicas_are_one_group_with_the_on_demand_base() -> None:
    assert found(gke_pools()) == set()
    assert found(gke_pools(base=0, spot_min=2)) == {"guardrail-spot-in-prod"}
    assert found(gke_pools(base=1, spot_min=0)) == {"guardrail-prod-redundancy"}
    assert found(gke_pools(zones=1)) == {"guardrail-prod-redundancy"}


def test_fields_named_tags_or_labels_that_hold_no_cost_tags_are_not_judged() -> None:
    named_value = Subject(
        "azure-native:apimanagement:NamedValue", "key", {"tags": ["a-filter"], "secret": True}
    )
    channel = Subject(
        "gcp:monitoring/notificationChannel:NotificationChannel",
        "email",
        {"labels": {"email_address": "a@example.com"}, "userLabels": tags("prod")},
    )
    assert found([named_value, channel]) == set()


def test_list_shaped_tags_are_read_as_key_value_pairs() -> None:
    def asg(*keys: str) -> Subject:
        entries = [{"key": k, "value": "x", "propagateAtLaunch": True} for k in keys]
        return Subject("aws:autoscaling/group:Group", "group", {"tags": entries})

    assert "guardrail-cost-tags" not in found([asg("owner", "cost-center", "environment")])
    (violation,) = evaluate([asg("owner")], [r for r in GUARDRAILS if "cost-tags" in r.name])
    assert "missing cost tags cost-center, environment" in violation.message
