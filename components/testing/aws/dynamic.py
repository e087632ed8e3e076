"""Python dynamic resources in moto: the AWS target's own providers, run for real.

Every Python dynamic resource has the type `pulumi-python:dynamic:Resource`; its `kind`
input says which provider it is. The mirror calls that provider's `create` against moto,
so the endpoint the stack declares exists in moto, created by the code `pulumi up` runs.
"""

from __future__ import annotations

from typing import Any

from inferstack.components.aws.endpoint_provider import (
    DYNAMIC_TYPE,
    KIND,
    SageMakerEndpointProvider,
)
from inferstack.components.testing.aws.shapes import Args, Mirror, Moto, Result

NOT_IN_MOTO = {
    f"{DYNAMIC_TYPE}#deployment_config": (
        "moto's CreateEndpoint drops DeploymentConfig and has no UpdateEndpoint; botocore "
        "validates the shape, and tests/components/aws/test_rollout.py drives updates"
    ),
}


def _endpoint(m: Moto, a: Args) -> Result:
    m.client("sagemaker")  # refuses to run unless moto is active
    props: dict[str, Any] = {k: v for k, v in a.inputs.items() if not k.startswith("__")}
    created = SageMakerEndpointProvider().create({**props, "region": m.region, "poll_s": 0})
    return str(created.id), dict(created.outs or {})


_KINDS = {KIND: _endpoint}


def _dynamic(m: Moto, a: Args) -> Result:
    kind = a.inputs.get("kind", "")
    mirror = _KINDS.get(kind)
    if mirror is None:
        raise NotImplementedError(f"MotoMocks has no mirror for the dynamic resource {kind!r}")
    return mirror(m, a)


MIRRORS: dict[str, Mirror] = {DYNAMIC_TYPE: _dynamic}
