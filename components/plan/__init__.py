"""The offline plan: a Pulumi program run under the mock runtime, with each target's fakes."""

from __future__ import annotations

from inferstack.components.plan.run import (
    SECRET_MASK,
    Plan,
    PlanError,
    PlannedResource,
    mask_secrets,
    run_plan,
    run_under_mocks,
)

__all__ = [
    "SECRET_MASK",
    "Plan",
    "PlanError",
    "PlannedResource",
    "mask_secrets",
    "run_plan",
    "run_under_mocks",
]
