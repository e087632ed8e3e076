"""Errors of the IaC side, each naming what the user has to change.

DeployError                base; `str()` is the message shown to the user
├── SpecError              the deployment spec is invalid (one line per problem)
├── StackNotFoundError     no stacks/Pulumi.<stack>.yaml
└── TargetNotImplementedError
                           the spec names a target with no component yet
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from inferstack.components.spec.rules import SpecRuleError

CONFIG_KEY = "inferstack:deployment"


class DeployError(Exception):
    """Base of the errors inferstack reports to users without a traceback."""


class SpecError(DeployError):
    """The deployment spec is invalid; `problems` has one line per invalid field."""

    def __init__(self, problems: Iterable[str], source: str = CONFIG_KEY) -> None:
        self.problems = tuple(problems)
        self.source = source
        super().__init__("\n".join(f"{source}: {p}" for p in self.problems))

    @classmethod
    def from_validation(cls, err: ValidationError, source: str = CONFIG_KEY) -> SpecError:
        """Render pydantic's errors as `field.path: what is wrong (got value)` lines."""
        return cls((_describe(e) for e in err.errors()), source)


class StackNotFoundError(DeployError):
    """The named stack has no config file."""


class TargetNotImplementedError(DeployError):
    """The spec's target has no component yet."""


def _describe(error: ErrorDetails) -> str:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, SpecRuleError):
        return f"deployment.{cause.field}: {cause.message}"
    path = ".".join(str(part) for part in ("deployment", *error["loc"]))
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown key"
    if error["type"] == "missing":
        return f"{path}: required field is missing"
    got = error.get("input")
    if error["type"] != "model_type" and not isinstance(got, dict | list):
        return f"{path}: {message} (got {got!r})"
    return f"{path}: {message}"
