"""The AWS target: SageMaker (or a spot GPU Auto Scaling group) behind API Gateway, with
CloudWatch logs, alarms, rollouts.

`AwsEndpoint` wires the parts; each part is its own component so other stacks can
reuse it. `target.py` declares the target to the registry without importing Pulumi;
the components load pulumi-aws on first access. `inferstack.components.testing`
mirrors these resources into moto for tests.
"""

from __future__ import annotations

import importlib
from typing import Any

_COMPONENTS = {
    "ApiGateway": "gateway",
    "ApiGatewayArgs": "gateway",
    "ArtifactStore": "storage",
    "ArtifactStoreArgs": "storage",
    "AwsEndpoint": "endpoint",
    "AwsEndpointOptions": "endpoint",
    "EndpointAutoscaling": "autoscaling",
    "EndpointAutoscalingArgs": "autoscaling",
    "ExecutionRole": "iam",
    "ExecutionRoleArgs": "iam",
    "GpuInstanceGroup": "group",
    "GpuInstanceGroupArgs": "group",
    "GroupLoadBalancer": "group_balancer",
    "GroupNetwork": "group_network",
    "GroupNetworkArgs": "group_network",
    "InstanceRole": "group_role",
    "InstanceRoleArgs": "group_role",
    "LoadBalancerArgs": "group_balancer",
    "LoadBalancerBackend": "gateway_backend",
    "SageMakerBackend": "gateway_backend",
    "ImageRepository": "registry",
    "ImageRepositoryArgs": "registry",
    "Observability": "observability",
    "ObservabilityArgs": "observability",
    "SageMakerEndpoint": "sagemaker",
    "SageMakerEndpointArgs": "sagemaker",
    "StackKey": "kms",
    "StackKeyArgs": "kms",
}

__all__ = sorted(_COMPONENTS)


def __getattr__(name: str) -> Any:
    if name in _COMPONENTS:
        module = importlib.import_module(f"{__name__}.{_COMPONENTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
