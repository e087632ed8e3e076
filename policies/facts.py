"""What the guardrails need to know about a stack, whatever its target: the capacity it
runs (instance types and counts, spot or not), its alarms and its rollback.

Each target's policy module reads these facts from its own resource types and exports a
`FACTS` (`TargetFacts`); the guardrails (`policies/guardrails.py`) judge the facts, so a
new target adds its readers and gets every guardrail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from inferstack.policies.base import Subject


@dataclass(frozen=True)
class Capacity:
    """A group of instances that serve the model (a variant, a node pool, an ASG)."""

    resource: str
    instance_types: tuple[str, ...]
    min_count: int
    max_count: int
    spot: bool = False
    on_demand_base: int | None = None
    """Instances always on on-demand capacity when `spot` (None when not spot)."""
    zones: int | None = None
    """Zones the group spans; None where the platform spreads instances itself."""


@dataclass(frozen=True)
class Alarm:
    """An alarm, and whether it notifies someone when it fires."""

    resource: str
    notifies: bool


@dataclass(frozen=True)
class Rollback:
    """A deployment, and whether its updates roll back on alarms by themselves."""

    resource: str
    automatic: bool


def _none(resources: list[Subject]) -> Iterable[Any]:
    return ()


@dataclass(frozen=True)
class TargetFacts:
    """How one target's resources are read as facts."""

    capacity: Callable[[list[Subject]], Iterable[Capacity]] = _none
    alarms: Callable[[list[Subject]], Iterable[Alarm]] = _none
    rollback: Callable[[list[Subject]], Iterable[Rollback]] = _none


ENVIRONMENT_KEYS = ("inferstack:environment", "inferstack-environment", "environment")
"""Tag or label keys that name the environment (GCP labels allow no colon)."""


def labels_of(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """A resource's tags or labels, whichever it has."""
    for key in ("tags", "userLabels", "labels", "resourceLabels"):
        value = props.get(key)
        if isinstance(value, Mapping):
            return value
    return {}


def environment_of(resources: Iterable[Subject]) -> str | None:
    """The environment the stack's resources are tagged with, if any."""
    for resource in resources:
        labels = labels_of(resource.props)
        for key in ENVIRONMENT_KEYS:
            if isinstance(labels.get(key), str):
                return str(labels[key])
    return None


def as_int(value: Any, default: int = 0) -> int:
    """A count from a property that Pulumi may give as a float or a string."""
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default
