"""The one list of deployment targets.

Each target folder declares itself in its `target.py` (a `Target`: profile, typed
options, spec rules, component and plan fakes, no cloud SDK imported). This module
lists those declarations and answers lookups; nothing else in the tree names a target.
Adding a target is one folder, one line in `TARGET_MODULES` and one extra in
pyproject.toml. `register` adds one at run time (other packages, tests).
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator

from inferstack.components.target import InstanceSize, Target, TargetProfile

__all__ = [
    "TARGET_MODULES",
    "InstanceSize",
    "Target",
    "TargetProfile",
    "all_targets",
    "get_target",
    "profile",
    "register",
    "registered",
    "target_names",
]

TARGET_MODULES: tuple[str, ...] = (
    "inferstack.components.local.target",
    "inferstack.components.aws.target",
    "inferstack.components.azure.target",
    "inferstack.components.gcp.target",
)
"""Modules that each define `TARGET`, in the order targets are listed to users."""

_registry: dict[str, Target] = {}
_loaded = False


def _load() -> dict[str, Target]:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in TARGET_MODULES:
            register(importlib.import_module(module).TARGET)
    return _registry


def register(target: Target) -> None:
    """Add `target`; a second target of the same name is refused."""
    registry = _load()
    existing = registry.get(target.name)
    if existing is not None and existing is not target:
        raise ValueError(f"a target named {target.name!r} is already registered")
    registry[target.name] = target


@contextlib.contextmanager
def registered(target: Target) -> Iterator[Target]:
    """`target` registered for the duration of a `with` block (for tests)."""
    register(target)
    try:
        yield target
    finally:
        _registry.pop(target.name, None)


def all_targets() -> dict[str, Target]:
    """Every registered target by name."""
    return dict(_load())


def target_names() -> tuple[str, ...]:
    """The names a spec's `target` may take."""
    return tuple(_load())


def get_target(name: str) -> Target:
    """The target called `name`; KeyError names the known ones."""
    try:
        return _load()[name]
    except KeyError:
        raise KeyError(f"unknown target {name!r}; known: {', '.join(_load())}") from None


def profile(name: str) -> TargetProfile:
    """The profile of target `name`; KeyError names the known targets."""
    return get_target(name).profile
