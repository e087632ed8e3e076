"""What every policy rule is built from: the resource as a rule sees it, the rule, the
violation, and the helpers rules share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

Enforcement = Literal["mandatory", "advisory"]
EnforcementSetting = Literal["mandatory", "advisory", "disabled"]


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


Check = Callable[..., Iterable[tuple[str, str | None]]]
"""`check(resources)`, or `check(resources, settings)` for a rule with settings."""


class PolicyConfigError(ValueError):
    """A policy's configuration does not fit its schema."""


@dataclass(frozen=True)
class Rule:
    """A named policy with its enforcement level and the check that finds violations.

    A rule with `settings` (a pydantic model) is configurable per stack: the same
    mapping is CrossGuard's policy config (`--policy-pack-config`, whose JSON schema is
    the model's) and the offline plan's (`policies/config/<stack>.json`).
    """

    name: str
    description: str
    enforcement: Enforcement
    check: Check
    settings: type[BaseModel] | None = None

    def enforcement_for(self, config: Mapping[str, Any] | None) -> EnforcementSetting:
        """The level `config` sets (its `enforcementLevel`), else the rule's own."""
        level = (config or {}).get("enforcementLevel", self.enforcement)
        if level not in ("mandatory", "advisory", "disabled"):
            raise PolicyConfigError(
                f"{self.name}.enforcementLevel: {level!r} is not mandatory, advisory or disabled"
            )
        return level  # type: ignore[no-any-return]

    def run(
        self, resources: list[Subject], config: Mapping[str, Any] | None = None
    ) -> Iterable[tuple[str, str | None]]:
        """The rule's findings on `resources` under `config` (its policy config)."""
        if self.settings is None:
            return self.check(resources)
        values = {k: v for k, v in (config or {}).items() if k != "enforcementLevel"}
        try:
            settings = self.settings.model_validate(values)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(part) for part in (self.name, *first["loc"]))
            raise PolicyConfigError(f"{where}: {first['msg']}") from None
        return self.check(resources, settings)


def of(resources: list[Subject], types: Iterable[str] | str) -> list[Subject]:
    wanted = (types,) if isinstance(types, str) else tuple(types)
    return [r for r in resources if r.type in wanted]
