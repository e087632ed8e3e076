"""The guardrails' facts about the GKE target's resources: the serving replicas (the
Deployments' fixed replicas and their autoscalers' bounds) on the node pools labelled with
a capacity kind, as one group, and Cloud Monitoring alert policies. Nothing on GKE rolls
an update back on alerts, so there are no rollback facts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from inferstack.policies.base import Subject, of
from inferstack.policies.facts import Alarm, Capacity, TargetFacts, as_int

NODE_POOL = "gcp:container/nodePool:NodePool"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
AUTOSCALER = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
CAPACITY_LABEL = "inferstack.dev/capacity"
TRACK_LABEL = "inferstack.dev/track"


def _replicas(resources: list[Subject]) -> tuple[int, int, int] | None:
    """(min, max, on-demand) serving replicas of the stable track, or None when the
    stack declares no serving Deployments (the node pools' bounds stand in)."""
    bounds = {
        str(((h.props.get("spec") or {}).get("scaleTargetRef") or {}).get("name")): h.props["spec"]
        for h in of(resources, AUTOSCALER)
        if h.props.get("spec")
    }
    low = high = on_demand = 0
    found = False
    for deployment in of(resources, DEPLOYMENT):
        metadata = deployment.props.get("metadata") or {}
        labels = metadata.get("labels") or {}
        if (
            labels.get("app.kubernetes.io/part-of") != "inferstack"
            or labels.get(TRACK_LABEL) == "canary"
        ):
            continue
        found = True
        scaler = bounds.get(str(metadata.get("name")))
        fixed = as_int((deployment.props.get("spec") or {}).get("replicas"), 1)
        least = as_int(scaler.get("minReplicas"), 1) if scaler else fixed
        most = as_int(scaler.get("maxReplicas"), least) if scaler else fixed
        low, high = low + least, high + most
        if labels.get(CAPACITY_LABEL) == "on-demand":
            on_demand += least
    return (low, high, on_demand) if found else None


def _bounds(pool: Mapping[str, Any]) -> tuple[int, int]:
    """A pool's node range: the total bounds, or per-zone bounds times its zones."""
    scaling = pool.get("autoscaling") or {}
    zones = len(pool.get("nodeLocations") or []) or 1
    if "totalMinNodeCount" in scaling or "totalMaxNodeCount" in scaling:
        return as_int(scaling.get("totalMinNodeCount")), as_int(scaling.get("totalMaxNodeCount"))
    if scaling:
        return as_int(scaling.get("minNodeCount")) * zones, as_int(
            scaling.get("maxNodeCount")
        ) * zones
    count = as_int(pool.get("nodeCount") or pool.get("initialNodeCount"), 1) * zones
    return count, count


def capacity(resources: list[Subject]) -> Iterable[Capacity]:
    """The serving pools of the stack as one group: spot and on-demand pools together,
    the on-demand pools' minimum as the base under spot (the system pool is left out)."""
    serving = [
        pool
        for pool in of(resources, NODE_POOL)
        if CAPACITY_LABEL in ((pool.props.get("nodeConfig") or {}).get("labels") or {})
    ]
    if not serving:
        return
    spot = [p for p in serving if (p.props.get("nodeConfig") or {}).get("spot")]
    on_demand = [p for p in serving if p not in spot]
    ranges = [_bounds(p.props) for p in serving]
    types = sorted({str((p.props.get("nodeConfig") or {}).get("machineType")) for p in serving})
    zones = max(len(p.props.get("nodeLocations") or []) for p in serving) or None
    replicas = _replicas(resources)
    if replicas is not None:
        low, high, base = replicas
    else:
        low, high = sum(r[0] for r in ranges), sum(r[1] for r in ranges)
        base = sum(_bounds(p.props)[0] for p in on_demand)
    yield Capacity(
        (spot or serving)[0].name,
        tuple(types),
        low,
        high,
        spot=bool(spot),
        on_demand_base=base if spot else None,
        zones=zones,
    )


def alarms(resources: list[Subject]) -> Iterable[Alarm]:
    """Alert policies, notifying when they name a notification channel."""
    for policy in of(resources, "gcp:monitoring/alertPolicy:AlertPolicy"):
        yield Alarm(policy.name, bool(policy.props.get("notificationChannels")))


FACTS = TargetFacts(capacity=capacity, alarms=alarms)
