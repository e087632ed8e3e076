"""Pulumi mocks for the offline plan and for tests.

`PlanMocks` answers every resource with its inputs plus plausible values for
the outputs that programs read back (ids, ARNs, generated passwords, image
digests), so a stack program runs end to end without an engine or provider.
Target packages add their own fakes through `register_fake`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pulumi

FAKE_ACCOUNT = "123456789012"
FAKE_REGION = "us-east-1"

ResourceFake = Callable[[pulumi.runtime.MockResourceArgs], dict[str, Any]]
CallFake = Callable[[pulumi.runtime.MockCallArgs], dict[str, Any]]

_RESOURCE_FAKES: dict[str, ResourceFake] = {}
_CALL_FAKES: dict[str, CallFake] = {}


def register_fake(token: str, outputs: ResourceFake) -> None:
    """Add computed outputs for resources whose type token is or starts with `token`."""
    _RESOURCE_FAKES[token] = outputs


def register_call_fake(token: str, result: CallFake) -> None:
    """Answer the provider function (invoke) `token` under the mocks."""
    _CALL_FAKES[token] = result


def _digest(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def _fake_for(token: str) -> ResourceFake | None:
    if token in _RESOURCE_FAKES:
        return _RESOURCE_FAKES[token]
    matches = [t for t in _RESOURCE_FAKES if token.startswith(t)]
    return _RESOURCE_FAKES[max(matches, key=len)] if matches else None


class PlanMocks(pulumi.runtime.Mocks):
    """Mocks that echo inputs and add the outputs registered with `register_fake`."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        fake = _fake_for(args.typ)
        state = dict(args.inputs)
        if fake is not None:
            state.update(fake(args))
        return state.pop("id", None) or f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        fake = _CALL_FAKES.get(args.token)
        return (fake(args) if fake else {}), []


def _random_string(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    length = int(args.inputs.get("length", 32))
    return {"result": _digest("random", args.name)[:length]}


def _docker_image(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    name = args.inputs.get("imageName", args.name)
    return {"repoDigest": f"{name}@sha256:{_digest('image', name)}", "imageName": name}


def _docker_container(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    return {"id": _digest("container", args.name)[:12], "networkDatas": []}


register_fake("random:index/randomPassword:RandomPassword", _random_string)
register_fake("random:index/randomString:RandomString", _random_string)
register_fake("docker:index/image:Image", _docker_image)
register_fake("docker:index/remoteImage:RemoteImage", _docker_image)
register_fake("docker:index/container:Container", _docker_container)
