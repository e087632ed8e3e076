"""Pulumi components that deploy a model from one `DeploymentSpec`.

Importing this package needs only pydantic; the Pulumi classes load on first
use, so the spec and the CLI work where no Pulumi SDK is installed.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

from inferstack.components.errors import (
    DeployError,
    SpecError,
    StackNotFoundError,
    TargetNotImplementedError,
)
from inferstack.components.spec.config import load_spec
from inferstack.components.spec.models import (
    AlarmThresholds,
    ComputeSpec,
    DeploymentSpec,
    FeatureSpec,
    GatewaySpec,
    JwtSpec,
    ModelSpec,
    ObservabilitySpec,
    RolloutSpec,
    ScalingSpec,
    ScheduledWindow,
    VariantSpec,
)

# name -> module that defines it, imported on first access (these need Pulumi).
_LAZY = {
    "create_endpoint": "inferstack.components.endpoint",
    "InferenceEndpoint": "inferstack.components.endpoint",
    "run_plan": "inferstack.components.plan",
    "Plan": "inferstack.components.plan",
    "PlanMocks": "inferstack.components.plan.mocks",
    "LocalEndpoint": "inferstack.components.local.endpoint",
    "RuntimeImage": "inferstack.components.image.component",
    "AwsEndpoint": "inferstack.components.aws.endpoint",
}

__all__ = [
    "AlarmThresholds",
    "ComputeSpec",
    "DeploymentSpec",
    "FeatureSpec",
    "GatewaySpec",
    "DeployError",
    "JwtSpec",
    "ModelSpec",
    "ObservabilitySpec",
    "RolloutSpec",
    "ScalingSpec",
    "ScheduledWindow",
    "SpecError",
    "StackNotFoundError",
    "TargetNotImplementedError",
    "VariantSpec",
    "load_spec",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name == "InferstackError":  # the old name of DeployError, kept for imports
        warnings.warn(
            "inferstack.components.InferstackError is now DeployError",
            DeprecationWarning,
            stacklevel=2,
        )
        return DeployError
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
