"""What every mirror shares: its signature, and Pulumi inputs as botocore parameters.

A mirror is `(moto, args) -> (id, outputs)`: it creates one resource through a boto3
client that moto answers and returns the id and the outputs Pulumi should see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pulumi
from pulumi.runtime import rpc

Args = pulumi.runtime.MockResourceArgs
Result = tuple[str, dict[str, Any]]
CallResult = dict[str, Any]

# botocore's names where capitalising the camelCase input is not enough.
_SPECIAL_KEYS = {
    "memorySizeInMb": "MemorySizeInMB",
    "cloudwatchMetricsEnabled": "CloudWatchMetricsEnabled",
}
# Maps whose keys are data, not field names.
_DATA_MAPS = frozenset({"environment", "tags", "variables", "requestParameters"})


class Moto(Protocol):
    """The account a mirror creates resources in (`MotoMocks` is one)."""

    region: str

    @property
    def account_id(self) -> str: ...

    def client(self, service: str) -> Any: ...


Mirror = Callable[[Moto, Args], Result]
"""Creates one resource in moto; returns its id and the outputs Pulumi should see."""
CallMirror = Callable[[Moto, pulumi.runtime.MockCallArgs], CallResult]
"""Answers one provider function (invoke) from moto."""


def boto(value: Any, key: str = "") -> Any:
    """Pulumi's camelCase inputs as botocore's PascalCase parameters, integral floats as int."""
    if isinstance(value, dict):
        if key in _DATA_MAPS:
            return {k: boto(v) for k, v in value.items()}
        return {
            _SPECIAL_KEYS.get(k, k[:1].upper() + k[1:]): boto(v, k)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list):
        return [boto(v, key) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def boto_numbers(value: Any) -> Any:
    """`value` with integral floats (Pulumi sends every number as float) as ints."""
    if isinstance(value, dict):
        return {k: boto_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [boto_numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def unwrap_secrets(value: Any) -> Any:
    """`value` with Pulumi's secret envelopes replaced by the values they hold."""
    if rpc.is_rpc_secret(value):
        return unwrap_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def tag_list(tags: dict[str, str] | None) -> list[dict[str, str]]:
    """Pulumi's tag map as the `[{Key, Value}]` list most AWS APIs take."""
    return [{"Key": k, "Value": v} for k, v in (tags or {}).items()]


def dimension_list(dims: dict[str, str] | None) -> list[dict[str, str]]:
    """Pulumi's dimension map as CloudWatch's `[{Name, Value}]` list."""
    return [{"Name": k, "Value": v} for k, v in (dims or {}).items()]


def params(**kwargs: Any) -> dict[str, Any]:
    """The keyword arguments that are set (botocore refuses explicit None)."""
    return {k: v for k, v in kwargs.items() if v is not None}
