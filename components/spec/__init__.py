"""The cloud-neutral deployment spec: its models, rules, reference and stack config."""

from __future__ import annotations

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

__all__ = [
    "AlarmThresholds",
    "ComputeSpec",
    "DeploymentSpec",
    "FeatureSpec",
    "GatewaySpec",
    "JwtSpec",
    "ModelSpec",
    "ObservabilitySpec",
    "RolloutSpec",
    "ScalingSpec",
    "ScheduledWindow",
    "VariantSpec",
]
