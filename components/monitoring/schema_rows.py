"""Captured rows checked against a bundle's input schema, one reason per misfit.

A row is a list of values in feature order (nested lists are flattened, as a tensor
row is) or an object keyed by feature name. A row that does not fit gives a reason
that names the feature and what was expected, without the value, so reasons group.
"""

from __future__ import annotations

import math
from typing import Any

from inferstack.runtime.manifest import InputSchema

__all__ = ["RowChecker"]


class RowChecker:
    """Turns captured rows into typed values, or the reason they do not fit."""

    def __init__(self, schema: InputSchema) -> None:
        self.names = schema.names
        self.dtypes = schema.dtypes
        self.allow_nan = schema.allow_nan
        self._width = (
            f"the input schema has {len(self.names)} features ({', '.join(self.names[:8])}"
            f"{', ...' if len(self.names) > 8 else ''})"
        )

    def check(self, row: Any) -> list[Any] | str:
        """The row's values in feature order, or why it does not fit."""
        if isinstance(row, dict):
            missing = next((n for n in self.names if n not in row), None)
            if missing is not None:
                return f"row has no feature '{missing}'"
            values = [row[n] for n in self.names]
        elif isinstance(row, list):
            values = _flat(row)
            if len(values) != len(self.names):
                return f"row has {len(values)} values, {self._width}"
        else:
            return f"row is a {type(row).__name__}, not a list or an object"
        for i, (name, dtype) in enumerate(zip(self.names, self.dtypes, strict=True)):
            try:
                values[i] = _typed(values[i], dtype, self.allow_nan)
            except _MisfitError as err:
                return f"feature '{name}' ({dtype}): {err}"
        return values


def _flat(row: list[Any]) -> list[Any]:
    out: list[Any] = []
    for v in row:
        out.extend(_flat(v) if isinstance(v, list) else [v])
    return out


class _MisfitError(ValueError):
    """A value that does not fit its feature's dtype (the message says how)."""


def _typed(value: Any, dtype: str, allow_nan: bool) -> Any:
    """The value as its dtype holds it; ``_MisfitError`` when it does not fit."""
    if dtype == "string":
        if not isinstance(value, str):
            raise _MisfitError(f"expected a string, got {_kind(value)}")
        return value
    if dtype == "bool":
        if not isinstance(value, bool):
            raise _MisfitError(f"expected true/false, got {_kind(value)}")
        return value
    if value is None:
        if not allow_nan:
            raise _MisfitError("null, and the schema does not allow NaN")
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _MisfitError(f"expected a number, got {_kind(value)}")
    number = float(value)
    if math.isnan(number) and not allow_nan:
        raise _MisfitError("NaN, and the schema does not allow NaN")
    if dtype.startswith(("int", "uint")) and math.isfinite(number) and not number.is_integer():
        raise _MisfitError("expected an integer, got a fraction")
    return number


def _kind(value: Any) -> str:
    return {type(None): "null", bool: "a boolean", str: "a string"}.get(
        type(value), type(value).__name__
    )
