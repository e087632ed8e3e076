"""The AWS target's lifecycle: SageMaker variants, the model registry and alarms, via boto3.

The names are the AWS target's own (`aws.common.names_for`, `aws.alarms`): the
endpoint `<model>-<stack>`, its variants (`primary` and the spec's A/B variants) and
the rollback alarms the endpoint's blue/green updates watch. Registered versions are
the model packages of the group named after the model; each package's version is its
`inferstack:version` metadata property, else its package version number.

Traffic moves with `UpdateEndpointWeightsAndCapacities`: weights only, no new endpoint
configuration, so it takes seconds and leaves the instances as they are. SageMaker
refuses it while the endpoint is updating, so each call waits for `InService`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from inferstack.components.lifecycle.seam import (
    LifecycleError,
    VersionInfo,
    deployed_versions,
)
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.contract import Env

VERSION_PROPERTY = "inferstack:version"
"""The model package metadata property that holds the model's version."""
IN_SERVICE_TIMEOUT_S = 1800.0


def _client_error() -> type[Exception]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)  # type: ignore[return-value]


class AwsLifecycle:
    """A SageMaker endpoint's versions and traffic, for one stack."""

    target = "aws"
    shifts_traffic = True

    def __init__(
        self,
        spec: DeploymentSpec,
        stack: str,
        region: str,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 15.0,
        session: Any = None,
    ) -> None:
        import boto3

        from inferstack.components.aws.alarms import rollback_alarm_names
        from inferstack.components.aws.common import names_for

        self.spec = spec
        self.region = region
        names = names_for(spec.model.name, spec, stack)
        self.endpoint = names.endpoint
        self.alarms = rollback_alarm_names(spec, names)
        self.group = spec.model.name
        session = session or boto3.session.Session(region_name=region)
        self.sagemaker = session.client("sagemaker", region_name=region)
        self.cloudwatch = session.client("cloudwatch", region_name=region)
        self.sleep = sleep
        self.poll_s = poll_s

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except _client_error() as err:
            raise LifecycleError(f"{what} ({self.region}): {err}") from err

    def _endpoint(self) -> dict[str, Any]:
        from botocore.exceptions import ClientError

        try:
            return self.sagemaker.describe_endpoint(EndpointName=self.endpoint)  # type: ignore[no-any-return]
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in {"ValidationException", "ResourceNotFound"}:
                raise LifecycleError(
                    f"SageMaker endpoint {self.endpoint!r} does not exist in {self.region} "
                    "(deploy the stack with `pulumi up` first)"
                ) from err
            raise LifecycleError(f"DescribeEndpoint {self.endpoint}: {err}") from err

    def variants(self) -> dict[str, str]:
        """Variant -> the version its model's container serves (INFERSTACK_MODEL_VERSION)."""
        endpoint = self._endpoint()
        config = self._call(
            "DescribeEndpointConfig",
            self.sagemaker.describe_endpoint_config,
            EndpointConfigName=endpoint["EndpointConfigName"],
        )
        out = {}
        for variant in config["ProductionVariants"]:
            model = self._call(
                "DescribeModel", self.sagemaker.describe_model, ModelName=variant["ModelName"]
            )
            env = (model.get("PrimaryContainer") or {}).get("Environment") or {}
            out[variant["VariantName"]] = env.get(Env.MODEL_VERSION, "unknown")
        return out

    def weights(self) -> dict[str, float]:
        """Variant -> CurrentWeight as DescribeEndpoint reports it."""
        return {
            v["VariantName"]: float(v.get("CurrentWeight", 0.0))
            for v in self._endpoint().get("ProductionVariants", [])
        }

    def _registered(self) -> list[tuple[str, str, str]]:
        """(version, approval status, ARN) of each package in the model's group."""
        from botocore.exceptions import ClientError

        try:
            pages = self.sagemaker.get_paginator("list_model_packages").paginate(
                ModelPackageGroupName=self.group
            )
            summaries = [s for page in pages for s in page["ModelPackageSummaryList"]]
        except ClientError as err:
            if "does not exist" in str(err) or "not found" in str(err).lower():
                return []
            raise LifecycleError(f"ListModelPackages {self.group}: {err}") from err
        out = []
        for summary in summaries:
            arn = summary["ModelPackageArn"]
            package = self._call(
                "DescribeModelPackage", self.sagemaker.describe_model_package, ModelPackageName=arn
            )
            version = (package.get("CustomerMetadataProperties") or {}).get(
                VERSION_PROPERTY, str(package.get("ModelPackageVersion", "?"))
            )
            out.append((version, package.get("ModelApprovalStatus", ""), arn))
        return out

    def versions(self) -> list[VersionInfo]:
        """The endpoint's variants (with their traffic shares), then registered packages."""
        served = self.variants()
        out = deployed_versions(served, self.weights(), f"endpoint {self.endpoint}")
        deployed = set(served.values())
        out += [
            VersionInfo(
                version,
                "registered",
                source=f"model package group {self.group}",
                detail=f"{status} {arn}".strip(),
            )
            for version, status, arn in self._registered()
            if version not in deployed
        ]
        return out

    def _wait_in_service(self) -> dict[str, Any]:
        deadline = time.monotonic() + IN_SERVICE_TIMEOUT_S
        while True:
            endpoint = self._endpoint()
            status = endpoint.get("EndpointStatus")
            if status == "InService":
                return endpoint
            if status in {"Failed", "OutOfService", "Deleting"}:
                raise LifecycleError(f"endpoint {self.endpoint} is {status}; traffic not moved")
            if time.monotonic() > deadline:
                raise LifecycleError(f"endpoint {self.endpoint} still {status} after waiting")
            self.sleep(self.poll_s)

    def set_weights(self, weights: dict[str, float]) -> None:
        """UpdateEndpointWeightsAndCapacities with `weights` (instances unchanged)."""
        self._wait_in_service()
        self._call(
            "UpdateEndpointWeightsAndCapacities",
            self.sagemaker.update_endpoint_weights_and_capacities,
            EndpointName=self.endpoint,
            DesiredWeightsAndCapacities=[
                {"VariantName": name, "DesiredWeight": float(weight)}
                for name, weight in weights.items()
            ],
        )
        self._wait_in_service()

    def firing_alarms(self) -> list[str]:
        """The endpoint's rollback alarms (latency, 5xx rate per variant) now in ALARM."""
        if not self.alarms:
            return []
        found = self._call(
            "DescribeAlarms",
            self.cloudwatch.describe_alarms,
            AlarmNames=self.alarms[:100],
        )
        # Filtered here rather than with StateValue: one call, and the same on moto.
        alarms = [*found.get("MetricAlarms", []), *found.get("CompositeAlarms", [])]
        return [a["AlarmName"] for a in alarms if a.get("StateValue") == "ALARM"]
