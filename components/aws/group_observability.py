"""The instance group's alarms and dashboard, as plain data: unhealthy hosts, target
5xx, target latency, spot interruption notices and rebalance recommendations (the drain
agent's metrics), the gateway's alarms; a dashboard with the capacity split into spot
and on-demand. `Observability` declares them when it is given `GroupMetrics`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from inferstack.components.aws.alarms import AlarmDefinition, gateway_alarms
from inferstack.components.aws.common import RUNTIME_NAMESPACE, Names
from inferstack.components.spec.models import DeploymentSpec

ELB = "AWS/ApplicationELB"


@dataclass(frozen=True)
class GroupMetrics:
    """The dimensions of the group's metrics."""

    load_balancer: pulumi.Input[str]
    """`app/<name>/<id>`: the LoadBalancer dimension."""
    target_group: pulumi.Input[str]
    """`targetgroup/<name>/<id>`: the TargetGroup dimension."""
    group_name: str
    """The Auto Scaling group (the agent's AutoScalingGroupName dimension)."""
    log_group: str
    """The containers' log group name."""


def _elb(metrics: GroupMetrics) -> dict[str, Any]:
    return {"LoadBalancer": metrics.load_balancer, "TargetGroup": metrics.target_group}


def _target_5xx_rate(metrics: GroupMetrics) -> list[dict[str, Any]]:
    def metric(id_: str, name: str) -> dict[str, Any]:
        return {
            "id": id_,
            "return_data": False,
            "metric": {
                "namespace": ELB,
                "metric_name": name,
                "period": 60,
                "stat": "Sum",
                "dimensions": _elb(metrics),
            },
        }

    return [
        metric("errors", "HTTPCode_Target_5XX_Count"),
        metric("requests", "RequestCount"),
        {
            "id": "rate",
            "return_data": True,
            "label": "target 5xx %",
            "expression": "IF(requests > 0, 100 * errors / requests, 0)",
        },
    ]


def group_alarm_definitions(
    spec: DeploymentSpec, names: Names, metrics: GroupMetrics
) -> list[AlarmDefinition]:
    """Every alarm of a group deployment. (No drift alarm: the runtime's EMF lines reach
    the log group through Docker's awslogs driver, which does not mark them for metric
    extraction; docs/aws.md says so.)"""
    limits = spec.observability.alarms
    agent = {"AutoScalingGroupName": metrics.group_name}
    out = [
        AlarmDefinition(
            names.alarm("unhealthy-hosts"),
            "load balancer: a target fails the runtime's readiness check",
            0,
            metric={
                "namespace": ELB,
                "metric_name": "UnHealthyHostCount",
                "statistic": "Maximum",
                "dimensions": _elb(metrics),
            },
        ),
        AlarmDefinition(
            names.alarm("healthy-hosts"),
            f"load balancer: fewer healthy hosts than scaling.min_replicas "
            f"({spec.scaling.min_replicas}); 0 when every spot host is gone, when neither "
            "unhealthy hosts nor target 5xx can show it",
            spec.scaling.min_replicas,
            metric={
                "namespace": ELB,
                "metric_name": "HealthyHostCount",
                "statistic": "Minimum",
                "dimensions": _elb(metrics),
            },
            comparison="LessThanThreshold",
        ),
        AlarmDefinition(
            names.alarm("load-balancer-5xx"),
            "load balancer: it answers 5xx itself (no healthy target, connection errors)",
            0,
            metric={
                "namespace": ELB,
                "metric_name": "HTTPCode_ELB_5XX_Count",
                "statistic": "Sum",
                "dimensions": {"LoadBalancer": metrics.load_balancer},
            },
        ),
        AlarmDefinition(
            names.alarm("target-5xx-rate"),
            f"runtime: more than {limits.error_rate_5xx_percent}% of requests fail (5xx)",
            limits.error_rate_5xx_percent,
            queries=_target_5xx_rate(metrics),
        ),
        AlarmDefinition(
            names.alarm("target-latency-p99"),
            f"runtime: response time p99 above {limits.p99_latency_ms} ms",
            limits.p99_latency_ms / 1000,  # TargetResponseTime is in seconds
            metric={
                "namespace": ELB,
                "metric_name": "TargetResponseTime",
                "extended_statistic": "p99",
                "dimensions": _elb(metrics),
            },
        ),
        AlarmDefinition(
            names.alarm("spot-interruptions"),
            "spot: an instance got its two-minute interruption notice (drained)",
            0,
            metric={
                "namespace": RUNTIME_NAMESPACE,
                "metric_name": "SpotInterruptionNotices",
                "statistic": "Sum",
                "dimensions": agent,
            },
            evaluation_periods=1,
            datapoints_to_alarm=1,
        ),
        AlarmDefinition(
            names.alarm("rebalance-recommendations"),
            "spot: EC2 recommends rebalancing (elevated interruption risk)",
            0,
            metric={
                "namespace": RUNTIME_NAMESPACE,
                "metric_name": "RebalanceRecommendations",
                "statistic": "Sum",
                "dimensions": agent,
            },
            evaluation_periods=1,
            datapoints_to_alarm=1,
        ),
    ]
    return out + gateway_alarms(spec, names)


def group_dashboard_body(
    names: Names, region: str, load_balancer: str, target_group: str, group_name: str
) -> dict[str, Any]:
    """A dashboard: capacity by spot and on-demand, requests, 5xx, latency, health, GPU."""
    elb = ["LoadBalancer", load_balancer, "TargetGroup", target_group]
    agent = ["AutoScalingGroupName", group_name]
    api = ["ApiName", names.api, "Stage", names.stage]
    rows: list[tuple[str, list[list[Any]], str]] = [
        (
            "Capacity: spot and on-demand instances",
            [
                [RUNTIME_NAMESPACE, "Instances", *agent, "Lifecycle", kind, {"label": kind}]
                for kind in ("spot", "on-demand")
            ],
            "Sum",
        ),
        (
            "Requests per target",
            [[ELB, "RequestCountPerTarget", "TargetGroup", target_group]],
            "Sum",
        ),
        ("Target 5xx", [[ELB, "HTTPCode_Target_5XX_Count", *elb]], "Sum"),
        ("Target response time p99 (s)", [[ELB, "TargetResponseTime", *elb]], "p99"),
        (
            "Healthy and unhealthy hosts",
            [[ELB, m, *elb] for m in ("HealthyHostCount", "UnHealthyHostCount")],
            "Average",
        ),
        ("GPU utilisation (%)", [[RUNTIME_NAMESPACE, "GPUUtilization", *agent]], "Average"),
        (
            "Spot notices and rebalance recommendations",
            [
                [RUNTIME_NAMESPACE, m, *agent]
                for m in ("SpotInterruptionNotices", "RebalanceRecommendations")
            ],
            "Sum",
        ),
        (
            "Gateway requests and errors",
            [["AWS/ApiGateway", m, *api] for m in ("Count", "4XXError", "5XXError")],
            "Sum",
        ),
    ]
    widgets = []
    for i, (title, metrics, stat) in enumerate(rows):
        widgets.append(
            {
                "type": "metric",
                "x": (i % 2) * 12,
                "y": (i // 2) * 6,
                "width": 12,
                "height": 6,
                "properties": {
                    "title": title,
                    "region": region,
                    "stat": stat,
                    "period": 60,
                    "view": "timeSeries",
                    "metrics": metrics,
                },
            }
        )
    return {"widgets": widgets}
