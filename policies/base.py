"""What every policy rule is built from: the resource as a rule sees it, the rule, the
violation, and the helpers rules share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Enforcement = Literal["mandatory", "advisory"]


@dataclass(frozen=True)
class Subject:
    """A resource as the rules see it: type token, name, properties and URN."""

    type: str
    name: str
    props: Mapping[str, Any]
    urn: str = ""


@dataclass(frozen=True)
class Violation:
    """One broken rule, naming the resource at fault when there is one."""

    policy: str
    message: str
    enforcement: Enforcement
    resource: str | None = None

    def __str__(self) -> str:
        where = f" [{self.resource}]" if self.resource else ""
        return f"{self.enforcement} {self.policy}{where}: {self.message}"


Check = Callable[[list[Subject]], Iterable[tuple[str, str | None]]]


@dataclass(frozen=True)
class Rule:
    """A named policy with its enforcement level and the check that finds violations."""

    name: str
    description: str
    enforcement: Enforcement
    check: Check


def of(resources: list[Subject], types: Iterable[str] | str) -> list[Subject]:
    wanted = (types,) if isinstance(types, str) else tuple(types)
    return [r for r in resources if r.type in wanted]
