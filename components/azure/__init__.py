"""The Azure ML target: a managed online endpoint behind API Management, with autoscale,
Log Analytics, alerts and blue/green deployments.

`AzureEndpoint` wires the parts; each part is its own component so other stacks can
reuse it. `target.py` declares the target to the registry without importing Pulumi;
the components load pulumi-azure-native on first access.
"""

from __future__ import annotations

import importlib
from typing import Any

_COMPONENTS = {
    "ApiGateway": "gateway",
    "ApiGatewayArgs": "gateway",
    "AzureEndpoint": "endpoint",
    "DeploymentAutoscale": "autoscale",
    "DeploymentAutoscaleArgs": "autoscale",
    "EndpointTraffic": "traffic",
    "MlWorkspace": "workspace",
    "MlWorkspaceArgs": "workspace",
    "ModelAssets": "model",
    "ModelAssetsArgs": "model",
    "Observability": "observability",
    "ObservabilityArgs": "observability",
    "OnlineServing": "serving",
    "OnlineServingArgs": "serving",
}

__all__ = sorted(_COMPONENTS)


def __getattr__(name: str) -> Any:
    if name in _COMPONENTS:
        module = importlib.import_module(f"{__name__}.{_COMPONENTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
