"""Batch scoring's input checks: a chunk's columns to a batch, its bad rows split off.

The server's decoder (``RowDecoder``) checks a request as a whole and names the first
bad cell; a file of a million rows needs every bad row found and the others scored.
Here each column is checked at once with numpy (the same rules: numbers finite unless
the schema allows NaN, integers whole and in range, float32 within range, booleans
and strings of their type), the rows found bad are decoded alone by the server's
decoder, whose message (naming the feature) is the row's reason, and the good rows
become one batch typed as the server types a request:

- an all-number schema: one numeric array through ``RowDecoder.from_array``, the
  server's path for CSV bodies and V2 tensors;
- a schema with string features: an ``object`` array whose cells are Python values
  of each feature's kind, what ``RowDecoder`` gives the model for any protocol; or,
  for a model whose preprocessing builds a DataFrame (``FrameBuilder``), the checked
  columns themselves (``frames.Columns``), from which it builds the same DataFrame.

A string feature's column may be a pyarrow string array (see ``batch_input``): its
cells are strings or nulls, so only its nulls are checked. No Python runs per good
row, except the type check of string cells held as Python objects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from inferstack.runtime.errors import InvalidInput
from inferstack.runtime.frames import Columns
from inferstack.runtime.schema import RowDecoder

_TYPE_OF = np.frompyfunc(type, 1, 1)
_INT_RANGE: dict[str, np.iinfo[Any]] = {"int32": np.iinfo(np.int32), "int64": np.iinfo(np.int64)}


@dataclass(frozen=True)
class Decoded:
    """A chunk's good rows as a batch (``None`` if none), their numbers, and the rejects."""

    batch: np.ndarray | Columns | None
    rows: np.ndarray
    rejects: list[list[Any]]
    """``[row number, reason]`` in row order."""


def decode_columns(
    decoder: RowDecoder, columns: list[Any], first_row: int, columnar: bool = False
) -> Decoded:
    """Check a chunk given as one array per schema feature (in schema order).

    ``columnar``: a batch with string features comes as ``Columns`` (for a model that
    builds a DataFrame with ``FrameBuilder``), else as the server's rows batch.
    """
    n = len(columns[0])
    numbers = np.arange(first_row, first_row + n, dtype=np.int64)
    if decoder.np_dtype is not object and all(c.dtype.kind in "fiu" for c in columns):
        try:  # the common case, every row good: the server's checks on the whole chunk
            return Decoded(decoder.from_array(np.column_stack(columns), "rows"), numbers, [])
        except InvalidInput:
            pass  # some rows are bad: find them column by column
    bad = np.zeros(n, dtype=bool)
    typed: list[np.ndarray | None] = []
    for j, col in enumerate(columns):
        values, wrong = _column(decoder, j, col)
        typed.append(values)
        bad |= wrong
    rejects: list[list[Any]] = []
    late: list[int] = []  # rows the column checks doubted but the server's decoder takes
    for i in np.flatnonzero(bad).tolist():
        reason = row_reason(decoder, [_cell(c, i) for c in columns], int(numbers[i]))
        if reason is None:
            late.append(i)
        else:
            rejects.append([int(numbers[i]), reason])
    good = ~bad
    if late:
        good[late] = True
    if not good.any():
        return Decoded(None, numbers[:0], rejects)
    batch = _batch(decoder, typed, columns, good, late, columnar)
    return Decoded(batch, numbers[good], rejects)


def _cell(column: Any, i: int) -> Any:
    """Cell ``i`` of a numpy or pyarrow column, as the reader gave it (None for a null)."""
    return column[i] if isinstance(column, np.ndarray) else column[i].as_py()


def row_reason(decoder: RowDecoder, cells: list[Any], number: int) -> str | None:
    """The server's message for one row, or ``None`` when the server takes it."""
    where = f"row {number}"
    try:
        decoder.decode([_parsed_row(decoder, cells, where)], where)
    except InvalidInput as err:
        # "row 7[0][2] (feature 'city')": the row alone, the feature by its name
        return re.sub(rf"^{re.escape(where)}\[0\](\[\d+\])?", where, err.message, count=1)
    return None


def _parsed_row(decoder: RowDecoder, cells: list[Any], where: str) -> list[Any]:
    """A row's cells as Python values; text in a non-string feature (a CSV column with a
    cell that is not a number is read as text) parsed as the server parses a CSV cell."""
    row = [c.item() if isinstance(c, np.generic) else c for c in cells]
    for j, kind in enumerate(decoder.kinds):
        if kind != "string" and isinstance(row[j], str):
            row[j] = decoder.csv_cell(row[j], j, where)
    return row


def _column(decoder: RowDecoder, j: int, col: Any) -> tuple[Any, np.ndarray]:
    """The column's values typed for the batch (``None`` if it has to go row by row) and
    the mask of its bad cells."""
    kind, dtype = decoder.kinds[j], decoder.dtypes[j]
    if kind == "string" and not isinstance(col, np.ndarray):  # pyarrow strings
        if not col.null_count:
            return col, np.zeros(len(col), dtype=bool)
        return col, col.is_null().to_numpy(zero_copy_only=False)
    if kind == "string":
        types: np.ndarray = _TYPE_OF(col)
        return col, types != str  # noqa: E721 - elementwise, over a numpy array
    if kind == "boolean":
        if col.dtype.kind == "b":
            return col, np.zeros(len(col), dtype=bool)
        return None, np.ones(len(col), dtype=bool)
    if col.dtype.kind not in "fiu":  # text or missing cells: each row decoded alone
        return None, np.ones(len(col), dtype=bool)
    if kind == "integer":
        return col, _bad_integer(col, _INT_RANGE[dtype])
    wrong = np.zeros(len(col), dtype=bool)
    if col.dtype.kind == "f":
        if not decoder.schema.allow_nan:
            wrong = ~np.isfinite(col)
        if dtype == "float32":  # what the cast to float32 turns into infinity
            with np.errstate(over="ignore"):
                wrong |= np.isfinite(col) & np.isinf(col.astype(np.float32))
    return col, wrong


def _bad_integer(col: np.ndarray, info: np.iinfo[Any]) -> np.ndarray:
    if col.dtype.kind == "f":
        with np.errstate(invalid="ignore"):
            whole = np.isfinite(col) & (col == np.floor(col))
            # -info.min is a power of two, exact as a float
            inside = (col >= info.min) & (col < -float(info.min))
        return ~(whole & inside)
    if col.dtype.kind == "u":
        return col > info.max
    return (col < info.min) | (col > info.max)


def _batch(
    decoder: RowDecoder,
    typed: list[Any],
    columns: list[Any],
    good: np.ndarray,
    late: list[int],
    columnar: bool,
) -> np.ndarray | Columns:
    if late or any(t is None for t in typed):
        # some column could not be typed at once: the good rows through the server's decoder
        rows = [
            _parsed_row(decoder, [_cell(c, i) for c in columns], "rows")
            for i in np.flatnonzero(good).tolist()
        ]
        return decoder.decode(rows, "rows")
    every = bool(good.all())
    picked = [_picked(t, good, every) for t in typed]
    if decoder.np_dtype is not object:
        return decoder.from_array(np.column_stack(picked), "rows")
    if columnar:  # FrameBuilder casts each column to its feature's dtype
        return Columns([_for_frame(v, k) for v, k in zip(picked, decoder.kinds, strict=True)])
    out = np.empty((len(picked[0]), len(picked)), dtype=object)
    for j, values in enumerate(picked):
        if not isinstance(values, np.ndarray):
            values = values.to_numpy(zero_copy_only=False)
        out[:, j] = _python_values(values, decoder.kinds[j], decoder.dtypes[j])
    return out


def _for_frame(values: Any, kind: str) -> Any:
    """Integers bound for a number feature as float64 first, as the server's decoder
    takes them (then float32, if so): one rounding step more than a direct cast, which
    differs for integers beyond 2**53. A read-only array (pyarrow's and pandas' views of
    what they read) is copied: a pipeline may write into its DataFrame, as on the server."""
    if kind == "number" and isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        return values.astype(np.float64)
    if isinstance(values, np.ndarray) and not values.flags.writeable:
        return values.copy()
    return values


def _picked(values: Any, good: np.ndarray, every: bool) -> Any:
    if every:
        return values
    return values[good] if isinstance(values, np.ndarray) else values.filter(good)


def _python_values(values: np.ndarray, kind: str, dtype: str) -> np.ndarray:
    """Checked values as the server's decoder types them in an ``object`` batch."""
    if kind == "integer":
        return values.astype(np.int64).astype(object)
    if kind == "number":
        as_float = values.astype(np.float64)
        if dtype == "float32":
            as_float = as_float.astype(np.float32).astype(np.float64)
        return as_float.astype(object)
    if kind == "boolean":
        return values.astype(bool).astype(object)
    return values


__all__ = ["Decoded", "decode_columns", "row_reason"]
