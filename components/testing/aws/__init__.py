"""Pulumi mocks that create every AWS resource in moto, for tests (yours too).

`MotoMocks` answers `pulumi.runtime.set_mocks`: each AWS resource the program
declares is created through boto3 (so botocore checks the request against the
real API model) inside an active `moto.mock_aws()`, and moto's ids and ARNs come
back as the resource's outputs. Cross-resource references therefore resolve to
things moto holds, and tests ask moto what exists.

The mirror is a table: type token -> a small function, one module per service. A
resource type with no entry fails loudly (an `aws:` type must be mirrored); non-AWS
types (random) get the offline plan's fakes (see `fallback`). Where moto has no
operation for a resource the entry says so and records the inputs (`NOT_IN_MOTO`).

    with mock_aws():
        mocks = MotoMocks()
        plan = run_under_mocks(lambda: AwsEndpoint("m", spec), mocks=mocks)
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
import pulumi

from inferstack.components.plan.run import run_under_mocks
from inferstack.components.testing.aws import (
    apigateway,
    autoscaling,
    dynamic,
    ec2,
    ecr,
    elbv2,
    events,
    groups,
    iam,
    kms,
    monitoring,
    s3,
    sagemaker,
    sts,
    wafv2,
)
from inferstack.components.testing.aws.fallback import plan_fallback
from inferstack.components.testing.aws.guard import MotoNotActiveError, require_moto
from inferstack.components.testing.aws.shapes import (
    Args,
    CallMirror,
    Mirror,
    boto_numbers,
    unwrap_secrets,
)

MIRRORS: dict[str, Mirror] = {
    **kms.MIRRORS,
    **s3.MIRRORS,
    **iam.MIRRORS,
    **ecr.MIRRORS,
    **sagemaker.MIRRORS,
    **autoscaling.MIRRORS,
    **monitoring.MIRRORS,
    **events.MIRRORS,
    **apigateway.MIRRORS,
    **wafv2.MIRRORS,
    **dynamic.MIRRORS,
    **ec2.MIRRORS,
    **elbv2.MIRRORS,
    **groups.MIRRORS,
}
"""Resource type token -> the function that creates it in moto."""
CALLS: dict[str, CallMirror] = {**sts.CALLS, **ecr.CALLS, **groups.CALLS}
"""Provider function (invoke) token -> the function that answers it from moto."""
NOT_IN_MOTO: dict[str, str] = {
    **sagemaker.NOT_IN_MOTO,
    **s3.NOT_IN_MOTO,
    **dynamic.NOT_IN_MOTO,
    **groups.NOT_IN_MOTO,
}
"""`<type>#<input>` -> why moto does not hold that input (botocore still checks it)."""


class MotoMocks(pulumi.runtime.Mocks):
    """Mocks that create each AWS resource in moto and return moto's ids and ARNs.

    Use it inside `moto.mock_aws()`; outside it every AWS call raises
    `MotoNotActiveError` rather than reach the real AWS.
    """

    def __init__(self, region: str = "us-east-1") -> None:
        self.region = region
        self._session = boto3.session.Session(region_name=region)
        self._clients: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._fallback = plan_fallback()
        self.resources: list[tuple[str, str, str]] = []
        """(type, name, id) of every resource created, in order."""
        self.inputs: dict[str, list[dict[str, Any]]] = {}
        """type -> the (secret-free) inputs of each resource of that type, in order."""

    def client(self, service: str) -> Any:
        """A boto3 client for `service` in the mocks' region (moto answers it)."""
        require_moto()
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(service)
            return self._clients[service]

    @property
    def account_id(self) -> str:
        """The account moto runs as."""
        return str(self.client("sts").get_caller_identity()["Account"])

    def new_resource(self, args: Args) -> tuple[str, dict]:
        mirror = MIRRORS.get(args.typ)
        if mirror is None:
            if args.typ.startswith("aws:"):
                raise NotImplementedError(f"MotoMocks has no mirror for {args.typ}")
            return self._fallback.new_resource(args)
        plain = pulumi.runtime.MockResourceArgs(
            typ=args.typ,
            name=args.name,
            inputs=unwrap_secrets(args.inputs),
            provider=args.provider,
            resource_id=args.resource_id,
            custom=args.custom,
        )
        with self._lock:
            resource_id, outputs = mirror(self, plain)
            self.resources.append((args.typ, args.name, resource_id))
            self.inputs.setdefault(args.typ, []).append(boto_numbers(plain.inputs))
        return resource_id, {**args.inputs, **outputs}

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        # Pulumi's mock monitor takes a bare dict or (result, failures) and iterates the
        # failures, so the tuple carries [] (no check failures), never None.
        answer = CALLS.get(args.token)
        if answer is not None:
            return answer(self, args), []
        return self._fallback.call(args)


def run_program(
    program: Callable[[], Any],
    mocks: pulumi.runtime.Mocks,
    *,
    stack: str = "test",
    project: str = "inferstack",
    config: dict[str, str] | None = None,
) -> Any:
    """Run `program` under `mocks` and return its result with every Output resolved.

    `aws:region` defaults to the mocks' region, so the provider and moto agree.
    """
    config = {"aws:region": getattr(mocks, "region", "us-east-1"), **(config or {})}
    plan = run_under_mocks(program, mocks=mocks, stack=stack, project=project, config=config)
    return plan.result


__all__ = ["CALLS", "MIRRORS", "NOT_IN_MOTO", "MotoMocks", "MotoNotActiveError", "run_program"]
