"""SageMaker models, endpoint configurations and endpoints in moto."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

from inferstack.components.testing.aws.fallback import auto_name
from inferstack.components.testing.aws.shapes import (
    Args,
    Mirror,
    Moto,
    Result,
    boto,
    params,
    tag_list,
)

NOT_IN_MOTO = {
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration#instanceType": (
        "moto's instance-type list is old; checked against botocore's list instead"
    ),
    "aws:sagemaker/endpoint:Endpoint#deploymentConfig": (
        "moto's CreateEndpoint drops DeploymentConfig; botocore still validates its shape"
    ),
    "aws:sagemaker/model:Model#enableNetworkIsolation": (
        "moto's CreateModel drops EnableNetworkIsolation; botocore validates it"
    ),
}


def _model(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    arn = m.client("sagemaker").create_model(
        **params(
            ModelName=name,
            ExecutionRoleArn=i["executionRoleArn"],
            PrimaryContainer=boto(i.get("primaryContainer")),
            VpcConfig=boto(i.get("vpcConfig")),
            EnableNetworkIsolation=i.get("enableNetworkIsolation"),
            Tags=tag_list(i.get("tags")),
        )
    )["ModelArn"]
    return name, {"name": name, "arn": arn}


@contextlib.contextmanager
def _botocore_instance_types(m: Moto) -> Iterator[None]:
    """Check instance types against botocore's list instead of moto's (NOT_IN_MOTO).

    moto's list predates g5, g6, p4d and p5 and has no public switch, so its one
    checking method is swapped for the duration of a CreateEndpointConfig call. This is
    the mirror's only use of a moto internal.
    """
    from moto.sagemaker.models import FakeEndpointConfig

    shape = m.client("sagemaker").meta.service_model.shape_for("ProductionVariantInstanceType")
    valid = set(shape.enum)

    def validate(_: Any, instance_type: str) -> None:
        if instance_type not in valid:
            raise ValueError(f"{instance_type!r} is not a SageMaker instance type")

    with mock.patch.object(FakeEndpointConfig, "validate_instance_type", validate):
        yield


def _endpoint_config(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    with _botocore_instance_types(m):
        arn = m.client("sagemaker").create_endpoint_config(
            **params(
                EndpointConfigName=name,
                ProductionVariants=boto(i["productionVariants"]),
                DataCaptureConfig=boto(i.get("dataCaptureConfig")),
                AsyncInferenceConfig=boto(i.get("asyncInferenceConfig")),
                KmsKeyId=i.get("kmsKeyArn"),
                Tags=tag_list(i.get("tags")),
            )
        )["EndpointConfigArn"]
    return name, {"name": name, "arn": arn}


def _endpoint(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    # NOT_IN_MOTO: moto stores no DeploymentConfig; botocore validates the request shape.
    arn = m.client("sagemaker").create_endpoint(
        **params(
            EndpointName=name,
            EndpointConfigName=i["endpointConfigName"],
            DeploymentConfig=boto(i.get("deploymentConfig")),
            Tags=tag_list(i.get("tags")),
        )
    )["EndpointArn"]
    return name, {"name": name, "arn": arn}


MIRRORS: dict[str, Mirror] = {
    "aws:sagemaker/model:Model": _model,
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _endpoint_config,
    "aws:sagemaker/endpoint:Endpoint": _endpoint,
}
