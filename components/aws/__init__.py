"""The AWS target: SageMaker behind API Gateway, with CloudWatch logs, alarms, rollouts.

`AwsEndpoint` wires the parts; each part is its own component so other stacks can
reuse it. `MotoMocks` (in `inferstack.components.aws.moto_mocks`) mirrors these
resources into moto for tests.
"""

from inferstack.components.aws.autoscaling import EndpointAutoscaling
from inferstack.components.aws.endpoint import AwsEndpoint, AwsEndpointOptions
from inferstack.components.aws.gateway import ApiGateway
from inferstack.components.aws.iam import ExecutionRole
from inferstack.components.aws.kms import StackKey
from inferstack.components.aws.observability import Observability
from inferstack.components.aws.registry import ImageRepository
from inferstack.components.aws.sagemaker import SageMakerEndpoint
from inferstack.components.aws.storage import ArtifactStore

__all__ = [
    "ApiGateway",
    "ArtifactStore",
    "AwsEndpoint",
    "AwsEndpointOptions",
    "EndpointAutoscaling",
    "ExecutionRole",
    "ImageRepository",
    "Observability",
    "SageMakerEndpoint",
    "StackKey",
]
