"""Pulumi mocks for the offline plan and for tests.

`PlanMocks` answers every resource with its inputs plus plausible values for the
outputs that programs read back (ids, ARNs, generated passwords, image digests), so
a stack program runs end to end without an engine or provider. The outputs come from
fakes: the generic ones here, and those each target lists in its `Target.plan_fakes`
(modules that define `RESOURCE_FAKES` and `CALL_FAKES`), loaded from the registry when
the mocks are made. Importing a component registers nothing.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pulumi

FAKE_ACCOUNT = "123456789012"
FAKE_REGION = "us-east-1"

ResourceFake = Callable[[pulumi.runtime.MockResourceArgs], dict[str, Any]]
CallFake = Callable[[pulumi.runtime.MockCallArgs], dict[str, Any]]


def digest(*parts: object) -> str:
    """A stable hex digest of `parts`, for fake ids."""
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def _random_string(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    length = int(args.inputs.get("length", 32))
    return {"result": digest("random", args.name)[:length]}


GENERIC_FAKES: dict[str, ResourceFake] = {
    "random:index/randomPassword:RandomPassword": _random_string,
    "random:index/randomString:RandomString": _random_string,
}
"""Fakes of providers that every target may use."""


def _merge(into: dict[str, Any], fakes: Mapping[str, Any], source: str) -> None:
    for token, fake in fakes.items():
        if into.get(token, fake) is not fake:
            raise ValueError(f"two plan fakes for {token}; the second one is in {source}")
        into[token] = fake


def target_fakes(
    targets: Iterable[str] | None = None,
) -> tuple[dict[str, ResourceFake], dict[str, CallFake]]:
    """The resource and call fakes of `targets` (default: every registered target).

    A token faked differently by two modules is an error, so no import order decides.
    """
    from inferstack.components.targets import all_targets, get_target

    chosen = [get_target(t) for t in targets] if targets is not None else all_targets().values()
    resources: dict[str, ResourceFake] = dict(GENERIC_FAKES)
    calls: dict[str, CallFake] = {}
    for module_name in dict.fromkeys(m for t in chosen for m in t.plan_fakes):
        module = importlib.import_module(module_name)
        _merge(resources, getattr(module, "RESOURCE_FAKES", {}), module_name)
        _merge(calls, getattr(module, "CALL_FAKES", {}), module_name)
    return resources, calls


class PlanMocks(pulumi.runtime.Mocks):
    """Mocks that echo inputs and add the outputs of the targets' fakes.

    `targets` limits the fakes to those targets; `resource_fakes` and `call_fakes`
    add or replace fakes (a token matches a fake of the same token, else the longest
    fake token it starts with).
    """

    def __init__(
        self,
        targets: Iterable[str] | None = None,
        *,
        resource_fakes: Mapping[str, ResourceFake] | None = None,
        call_fakes: Mapping[str, CallFake] | None = None,
    ) -> None:
        resources, calls = target_fakes(targets)
        self.resource_fakes = {**resources, **(resource_fakes or {})}
        self.call_fakes = {**calls, **(call_fakes or {})}

    def fake_for(self, token: str) -> ResourceFake | None:
        """The fake for resource type `token`, if any."""
        if token in self.resource_fakes:
            return self.resource_fakes[token]
        matches = [t for t in self.resource_fakes if token.startswith(t)]
        return self.resource_fakes[max(matches, key=len)] if matches else None

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        fake = self.fake_for(args.typ)
        state = dict(args.inputs)
        if fake is not None:
            state.update(fake(args))
        return state.pop("id", None) or f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        fake = self.call_fakes.get(args.token)
        return (fake(args) if fake else {}), []
