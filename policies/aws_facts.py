"""The guardrails' facts about the AWS target's resources: SageMaker variants and EC2
Auto Scaling groups, CloudWatch alarms, and the endpoint's or group's rollback."""

from __future__ import annotations

from collections.abc import Iterable

from inferstack.policies.base import Subject, of
from inferstack.policies.facts import Alarm, Capacity, Rollback, TargetFacts, as_int

ENDPOINT_CONFIG = "aws:sagemaker/endpointConfiguration:EndpointConfiguration"
SCALABLE_TARGET = "aws:appautoscaling/target:Target"
AUTO_SCALING_GROUP = "aws:autoscaling/group:Group"
DYNAMIC_RESOURCE = "pulumi-python:dynamic:Resource"


def capacity(resources: list[Subject]) -> Iterable[Capacity]:
    """Each SageMaker instance variant (its scaling range where one is set) and each
    Auto Scaling group (its instance types, spot share and subnets' zones)."""
    ranges = {
        str(t.props.get("resourceId", "")).rsplit("/", 1)[-1]: t
        for t in of(resources, SCALABLE_TARGET)
        if t.props.get("serviceNamespace") == "sagemaker"
    }
    for config in of(resources, ENDPOINT_CONFIG):
        for variant in config.props.get("productionVariants") or []:
            if variant.get("serverlessConfig") or not variant.get("instanceType"):
                continue
            count = as_int(variant.get("initialInstanceCount"), 1)
            scaling = ranges.get(str(variant.get("variantName")))
            low = as_int(scaling.props.get("minCapacity"), count) if scaling else count
            high = as_int(scaling.props.get("maxCapacity"), count) if scaling else count
            # SageMaker places the instances of a variant in different Availability Zones.
            yield Capacity(config.name, (str(variant["instanceType"]),), low, high)
    for group in of(resources, AUTO_SCALING_GROUP):
        policy = group.props.get("mixedInstancesPolicy") or {}
        distribution = policy.get("instancesDistribution") or {}
        template = policy.get("launchTemplate") or {}
        types = tuple(
            str(o["instanceType"]) for o in template.get("overrides") or [] if o.get("instanceType")
        )
        percentage = as_int(distribution.get("onDemandPercentageAboveBaseCapacity"), 100)
        base = as_int(distribution.get("onDemandBaseCapacity"), 0)
        subnets = group.props.get("vpcZoneIdentifiers") or []
        yield Capacity(
            group.name,
            types,
            as_int(group.props.get("minSize")),
            as_int(group.props.get("maxSize")),
            spot=percentage < 100,
            on_demand_base=base if percentage < 100 else None,
            zones=len(subnets) or None,
        )


def alarms(resources: list[Subject]) -> Iterable[Alarm]:
    """CloudWatch alarms, notifying when they have an alarm action."""
    for alarm in of(resources, "aws:cloudwatch/metricAlarm:MetricAlarm"):
        yield Alarm(alarm.name, bool(alarm.props.get("alarmActions")))


def rollback(resources: list[Subject]) -> Iterable[Rollback]:
    """The SageMaker endpoint (alarms in its deployment config) and each group's
    instance refresh (automatic rollback in its preferences)."""
    for endpoint in of(resources, DYNAMIC_RESOURCE):
        if endpoint.props.get("kind") == "sagemaker-endpoint":
            config = endpoint.props.get("deployment_config") or {}
            alarms_ = (config.get("AutoRollbackConfiguration") or {}).get("Alarms")
            yield Rollback(endpoint.name, bool(alarms_))
    for endpoint in of(resources, "aws:sagemaker/endpoint:Endpoint"):
        config = endpoint.props.get("deploymentConfig") or {}
        alarms_ = (config.get("autoRollbackConfiguration") or {}).get("alarms")
        yield Rollback(endpoint.name, bool(alarms_))
    for group in of(resources, AUTO_SCALING_GROUP):
        preferences = (group.props.get("instanceRefresh") or {}).get("preferences") or {}
        yield Rollback(group.name, bool(preferences.get("autoRollback")))


FACTS = TargetFacts(capacity=capacity, alarms=alarms, rollback=rollback)
