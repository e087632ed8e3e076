"""Specs of the instance group (mode instance_group) for the group's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inferstack.components.spec.models import DeploymentSpec
from tests.components.aws.conftest import merge


def group_spec_data(bundle: Path) -> dict[str, Any]:
    """A prod spec on spot A10G instances behind the gateway (spot: true selects the group)."""
    return {
        "target": "aws",
        "environment": "prod",
        "region": "us-east-1",
        "model": {
            "name": "churn",
            "version": "1.2.0",
            "framework": "sklearn",
            "artifact": str(bundle),
        },
        "compute": {"accelerator": "nvidia-a10g", "spot": True, "on_demand_base": 1},
        "scaling": {
            "min_replicas": 2,
            "max_replicas": 6,
            "target_value": 600,
            "scale_in_cooldown_s": 300,
            "scale_out_cooldown_s": 60,
        },
        "gateway": {"auth": "api_key", "rate_limit_rps": 50, "burst": 100},
        "observability": {"notify_emails": ["oncall@example.com"]},
        "rollout": {"strategy": "blue_green"},
        "targets": {"aws": {"group": {"on_demand_percent_above_base": 25}}},
        "tags": {"team": "ml"},
    }


def group_spec(bundle: Path, changes: dict[str, Any] | None = None) -> DeploymentSpec:
    """The group spec with `changes` merged in, validated."""
    return DeploymentSpec.model_validate(merge(group_spec_data(bundle), changes or {}))
