"""Cost and reliability guardrails, configurable per stack.

Each guardrail judges facts (`policies/facts.py`) that every target's policy module reads
from its own resources, with settings from the stack's policy config: thresholds,
environment and enforcement level (`mandatory`, `advisory`, `disabled`). The same config
file serves `inferstack plan STACK` (`policies/config/<stack>.json`) and
`pulumi preview --policy-pack policies --policy-pack-config policies/config/<stack>.json`.
Defaults depend on the environment, taken from the settings or from the resources'
`inferstack:environment` tag.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from inferstack.policies import aws_facts, azure_facts, gcp_facts
from inferstack.policies.base import Rule, Subject
from inferstack.policies.facts import Alarm, Capacity, Rollback, TargetFacts, environment_of
from inferstack.policies.facts import labels_of as _labels_of
from inferstack.policies.taggable import tag_field

Environment = Literal["dev", "staging", "prod"]
Finding = tuple[str, str | None]

FACT_SOURCES: tuple[TargetFacts, ...] = (aws_facts.FACTS, azure_facts.FACTS, gcp_facts.FACTS)
"""Every target's fact readers (a target without capacity to judge has none)."""

# Single-GPU and CPU types only outside prod; shell patterns, matched case-sensitively.
_SMALL_TYPES = (
    "ml.c*", "ml.m*", "ml.t*", "c[0-9]*", "m[0-9]*", "t[0-9]*",
    "ml.g4dn.xlarge", "ml.g4dn.2xlarge", "ml.g5.xlarge", "ml.g5.2xlarge",
    "ml.g6.xlarge", "ml.g6.2xlarge", "g4dn.xlarge", "g4dn.2xlarge", "g5.xlarge",
    "g5.2xlarge", "g6.xlarge", "g6.2xlarge",
    "Standard_D*", "Standard_E*", "Standard_F*", "Standard_NC4as_T4_v3", "Standard_NC8as_T4_v3",
    "e2-*", "n1-standard-*", "n2-*", "g2-standard-4", "g2-standard-8",
    "host", "host-gpu",
)  # fmt: skip
_STAGING_TYPES = (
    "ml.g5.*", "ml.g6.*", "g5.*", "g6.*", "g2-standard-*", "Standard_NC24ads_A100_v4",
    "a2-highgpu-1g",
)  # fmt: skip
DEFAULT_ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    "dev": _SMALL_TYPES,
    "staging": (*_SMALL_TYPES, *_STAGING_TYPES),
    "prod": ("*",),
}
DEFAULT_MAX_INSTANCES = {"dev": 4, "staging": 8, "prod": 40}


class GuardrailSettings(BaseModel):
    """Settings every guardrail takes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    environment: Environment | None = Field(
        None, description="The stack's environment (default: from its resources' tags)."
    )


class InstanceTypeSettings(GuardrailSettings):
    """Which instance types a stack may run."""

    allowed: tuple[str, ...] | None = Field(
        None, description="Shell patterns of allowed types (default: by environment)."
    )


class MaxInstancesSettings(GuardrailSettings):
    """How many instances one capacity group may scale to."""

    max_instances: int | None = Field(
        None, ge=1, description="Most instances of one group (default: by environment)."
    )


class SpotSettings(GuardrailSettings):
    """Spot capacity in prod."""

    spot_in_prod: Literal["forbidden", "with_on_demand_base"] = Field(
        "with_on_demand_base", description="Whether prod may use spot, and on what terms."
    )
    min_on_demand_base: int = Field(1, ge=1, description="On-demand floor under spot in prod.")


class CostTagSettings(GuardrailSettings):
    """The tags that attribute cost."""

    required: tuple[str, ...] = Field(
        ("owner", "cost-center", "environment"), description="Tag keys every resource carries."
    )


class RedundancySettings(GuardrailSettings):
    """How much redundancy prod capacity keeps."""

    min_instances: int = Field(2, ge=1, description="Fewest instances of a prod group.")
    min_zones: int = Field(2, ge=1, description="Fewest zones a prod group spans.")


def _environment(resources: list[Subject], settings: GuardrailSettings) -> str:
    return settings.environment or environment_of(resources) or "dev"


def _capacity(resources: list[Subject]) -> list[Capacity]:
    return [c for source in FACT_SOURCES for c in source.capacity(resources)]


def instance_types_allowed(
    resources: list[Subject], settings: InstanceTypeSettings
) -> Iterable[Finding]:
    env = _environment(resources, settings)
    allowed = settings.allowed or DEFAULT_ALLOWED_TYPES[env]
    for group in _capacity(resources):
        for instance_type in group.instance_types:
            if not any(fnmatch.fnmatchcase(instance_type, p) for p in allowed):
                yield (
                    f"instance type {instance_type} is not allowed in {env} "
                    f"(allowed: {', '.join(allowed)}; set allowed in the stack's policy config)",
                    group.resource,
                )


def max_instances(resources: list[Subject], settings: MaxInstancesSettings) -> Iterable[Finding]:
    env = _environment(resources, settings)
    limit = settings.max_instances or DEFAULT_MAX_INSTANCES[env]
    for group in _capacity(resources):
        if group.max_count > limit:
            yield (
                f"scales to {group.max_count} instances; {env} allows at most {limit}",
                group.resource,
            )


def spot_in_prod(resources: list[Subject], settings: SpotSettings) -> Iterable[Finding]:
    if _environment(resources, settings) != "prod":
        return
    for group in _capacity(resources):
        if not group.spot:
            continue
        if settings.spot_in_prod == "forbidden":
            yield "spot capacity in prod, which this stack's policy config forbids", group.resource
        elif (group.on_demand_base or 0) < settings.min_on_demand_base:
            yield (
                f"spot in prod with an on-demand base of {group.on_demand_base or 0}; keep at "
                f"least {settings.min_on_demand_base} on demand (compute.on_demand_base)",
                group.resource,
            )


def cost_tags(resources: list[Subject], settings: CostTagSettings) -> Iterable[Finding]:
    for resource in resources:
        field = tag_field(resource.type)
        labels = resource.props.get(field) if field else _labels_of(resource.props) or None
        if field is None and labels is None:
            continue
        labels = _as_mapping(labels)
        if labels is None:
            continue  # a field of that name that holds no tags (API Management's filters)
        missing = [key for key in settings.required if key not in (labels or {})]
        if missing:
            yield (
                f"missing cost tags {', '.join(missing)} (set them in the spec's tags)",
                (resource.name),
            )


def _as_mapping(labels: object) -> Mapping[str, object] | None:
    """Tags as a mapping: as they are, or from a list of {key, value} entries (an EC2 Auto
    Scaling group's); None when the field holds something else."""
    if labels is None or isinstance(labels, Mapping):
        return labels or {}
    if isinstance(labels, list) and all(isinstance(t, Mapping) and "key" in t for t in labels):
        return {str(t["key"]): t.get("value") for t in labels}
    return None


def prod_redundancy(resources: list[Subject], settings: RedundancySettings) -> Iterable[Finding]:
    if _environment(resources, settings) != "prod":
        return
    for group in _capacity(resources):
        if group.min_count < settings.min_instances:
            yield (
                f"prod keeps {group.min_count} instance(s) at its minimum; keep at least "
                f"{settings.min_instances} (scaling.min_replicas)",
                group.resource,
            )
        if group.zones is not None and group.zones < settings.min_zones:
            yield (
                f"spans {group.zones} zone(s); prod spans at least {settings.min_zones}",
                group.resource,
            )


def prod_safety_net(resources: list[Subject], settings: GuardrailSettings) -> Iterable[Finding]:
    if _environment(resources, settings) != "prod":
        return
    alarms: list[Alarm] = [a for s in FACT_SOURCES for a in s.alarms(resources)]
    rollbacks: list[Rollback] = [r for s in FACT_SOURCES for r in s.rollback(resources)]
    if _capacity(resources) and not alarms:
        yield "prod has no alarms (observability.alarms)", None
    for alarm in alarms:
        if not alarm.notifies:
            yield "alarm notifies nobody (observability.notify_emails)", alarm.resource
    for deployment in rollbacks:
        if not deployment.automatic:
            yield "updates do not roll back on alarms (rollout.auto_rollback)", deployment.resource


RULES: tuple[Rule, ...] = (
    Rule(
        "guardrail-instance-types",
        "Only the instance types the environment allows (no multi-GPU types in dev).",
        "mandatory",
        instance_types_allowed,
        InstanceTypeSettings,
    ),
    Rule(
        "guardrail-max-instances",
        "No capacity group scales past the environment's instance limit.",
        "mandatory",
        max_instances,
        MaxInstancesSettings,
    ),
    Rule(
        "guardrail-spot-in-prod",
        "Spot in prod only above an on-demand base (or not at all).",
        "mandatory",
        spot_in_prod,
        SpotSettings,
    ),
    Rule(
        "guardrail-cost-tags",
        "Every taggable resource carries the cost tags (owner, cost-center, environment).",
        "mandatory",
        cost_tags,
        CostTagSettings,
    ),
    Rule(
        "guardrail-prod-redundancy",
        "Prod capacity keeps at least 2 instances across at least 2 zones.",
        "mandatory",
        prod_redundancy,
        RedundancySettings,
    ),
    Rule(
        "guardrail-prod-safety-net",
        "Prod has alarms that notify someone, and updates roll back on them.",
        "mandatory",
        prod_safety_net,
        GuardrailSettings,
    ),
)
