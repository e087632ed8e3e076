"""The caller's identity, as moto's STS reports it."""

from __future__ import annotations

import pulumi

from inferstack.components.testing.aws.shapes import CallMirror, CallResult, Moto


def _caller_identity(m: Moto, _: pulumi.runtime.MockCallArgs) -> CallResult:
    identity = m.client("sts").get_caller_identity()
    return {
        "accountId": identity["Account"],
        "arn": identity["Arn"],
        "userId": identity["UserId"],
        "id": identity["Account"],
    }


CALLS: dict[str, CallMirror] = {
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
}
