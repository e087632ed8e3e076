"""The guardrails' facts about the Azure target's resources: managed online deployments
with their autoscale ranges, and metric and log alerts. Managed online endpoints have no
automatic rollback on alerts, so there are no rollback facts to judge."""

from __future__ import annotations

from collections.abc import Iterable

from inferstack.policies.base import Subject, of
from inferstack.policies.facts import Alarm, Capacity, TargetFacts, as_int

DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
AUTOSCALE = "azure-native:monitor:AutoscaleSetting"


def capacity(resources: list[Subject]) -> Iterable[Capacity]:
    """Each deployment (a colour), at its autoscale profile's bounds where it has one."""
    ranges = {}
    for setting in of(resources, AUTOSCALE):
        target = str(setting.props.get("targetResourceUri") or "")
        profiles = setting.props.get("profiles") or [{}]
        bounds = profiles[0].get("capacity") or {}
        ranges[target.rsplit("/", 1)[-1]] = bounds
    for deployment in of(resources, DEPLOYMENT):
        properties = deployment.props.get("properties") or {}
        instance_type = properties.get("instanceType")
        if not instance_type:
            continue
        count = as_int((deployment.props.get("sku") or {}).get("capacity"), 1)
        bounds = ranges.get(str(deployment.props.get("deploymentName")), {})
        yield Capacity(
            deployment.name,
            (str(instance_type),),
            as_int(bounds.get("minimum"), count),
            as_int(bounds.get("maximum"), count),
        )


def alarms(resources: list[Subject]) -> Iterable[Alarm]:
    """Metric alerts (an action group in `actions`) and log alerts (`actions.actionGroups`)."""
    for alert in of(resources, "azure-native:monitor:MetricAlert"):
        yield Alarm(alert.name, bool(alert.props.get("actions")))
    for rule in of(resources, "azure-native:monitor:ScheduledQueryRule"):
        yield Alarm(rule.name, bool((rule.props.get("actions") or {}).get("actionGroups")))


FACTS = TargetFacts(capacity=capacity, alarms=alarms)
