"""Turn request rows into one validated numpy batch, naming the field on any error."""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import numpy as np

from inferstack.runtime.errors import InvalidInput
from inferstack.runtime.manifest import InputSchema

_NP = {
    "float32": np.float32,
    "float64": np.float64,
    "int32": np.int32,
    "int64": np.int64,
    "bool": np.bool_,
    "string": object,
}
_KIND = {
    "float32": "number",
    "float64": "number",
    "int32": "integer",
    "int64": "integer",
    "bool": "boolean",
    "string": "string",
}
_PY_TYPES: dict[str, frozenset[type]] = {
    "number": frozenset({int, float}),
    "integer": frozenset({int, float}),
    "boolean": frozenset({bool}),
    "string": frozenset({str}),
}


def common_dtype(dtypes: list[str]) -> Any:
    """The numpy dtype one batch array uses for these per-cell dtypes."""
    unique = set(dtypes)
    if len(unique) == 1:
        return _NP[dtypes[0]]
    if "string" in unique:
        return object
    return np.float64


class RowDecoder:
    """Validates rows (lists or feature-name dicts) against an ``InputSchema``."""

    def __init__(self, schema: InputSchema) -> None:
        self.schema = schema
        self.names = schema.names
        self.dtypes = schema.dtypes
        self.kinds = [_KIND[d] for d in self.dtypes]
        self.width = schema.width
        self.row_shape = schema.row_shape
        self.tabular = len(self.row_shape) == 1
        self.np_dtype = common_dtype(self.dtypes)
        self.index = {n: i for i, n in enumerate(self.names)}
        allowed: set[type] = set()
        for kind in set(self.kinds):
            allowed |= _PY_TYPES[kind]
        if schema.allow_nan:
            allowed.add(type(None))
        self.fast_types = frozenset(allowed) if len(set(self.kinds)) == 1 else frozenset()
        self.int_cols = [i for i, k in enumerate(self.kinds) if k == "integer"]
        self.int_target = np.dtype(self.np_dtype).kind == "i"
        self.float_cols = [i for i, k in enumerate(self.kinds) if k == "number"]

    def decode(self, rows: Any, where: str) -> np.ndarray:
        """``rows`` (a JSON list of rows) as an array of shape ``(n, *row_shape)``."""
        if not isinstance(rows, list) or not rows:
            raise InvalidInput(f"{where}: expected a non-empty list of rows")
        if any(type(row) is dict for row in rows):
            rows = [
                self._dict_row(row, f"{where}[{i}]") if type(row) is dict else row
                for i, row in enumerate(rows)
            ]
        if not self.tabular:
            return self._tensor(rows, where)
        types: set[type] = set()
        width = self.width
        for i, row in enumerate(rows):
            if type(row) is not list or len(row) != width:
                got = f"{len(row)} values" if isinstance(row, list) else type(row).__name__
                raise InvalidInput(f"{where}[{i}]: expected a list of {width} values, got {got}")
            types.update(map(type, row))
        if not types <= self.fast_types:
            self._check_cells(rows, where)
        if self.np_dtype is object:  # a string feature among others: typed cell by cell
            return self._objects(np.array(rows, dtype=object), where)
        # Floats bound for an integer array are checked (whole, in range) before the
        # cast, which would truncate 1.5 to 1 and wrap 1e30 without a word.
        staged = np.float64 if float in types and self.int_target else self.np_dtype
        try:
            with np.errstate(over="ignore"):  # a float32 overflow is inf, refused below
                arr = np.array(rows, dtype=staged)
        except (OverflowError, ValueError, TypeError) as err:
            raise InvalidInput(f"{where}: values do not fit the schema's dtypes: {err}") from err
        self.check_values(arr, where)
        return self._cast(arr, where)

    def _dict_row(self, row: Any, where: str) -> list[Any]:
        if not isinstance(row, dict):
            raise InvalidInput(f"{where}: expected an object of feature values")
        unknown = [k for k in row if k not in self.index]
        if unknown:
            raise InvalidInput(f"{where}: unknown feature '{unknown[0]}'")
        missing = [n for n in self.names if n not in row]
        if missing:
            raise InvalidInput(f"{where}: missing feature '{missing[0]}'")
        return [row[n] for n in self.names]

    def _check_cells(self, rows: list[list[Any]], where: str) -> None:
        allow_none = self.schema.allow_nan
        for i, row in enumerate(rows):
            for j, value in enumerate(row):
                kind = self.kinds[j]
                ok = type(value) in _PY_TYPES[kind] or (value is None and allow_none)
                if not ok:
                    got = "null" if value is None else type(value).__name__
                    raise InvalidInput(
                        f"{where}[{i}][{j}] (feature '{self.names[j]}'): expected {kind}, got {got}"
                    )

    def _tensor(self, rows: list[Any], where: str) -> np.ndarray:
        try:
            arr = np.asarray(rows)
        except ValueError as err:
            raise InvalidInput(
                f"{where}: rows are ragged, expected shape {self.row_shape}"
            ) from err
        return self.from_array(arr, where)

    def from_array(self, arr: np.ndarray, where: str) -> np.ndarray:
        """Check and reshape an already-built array (tensor or CSV input)."""
        expected_kind = {"number": "fiu", "integer": "fiu", "boolean": "b", "string": "UO"}
        kinds = "".join(expected_kind[k] for k in set(self.kinds))
        if arr.dtype.kind not in kinds:
            raise InvalidInput(f"{where}: expected {'/'.join(sorted(set(self.kinds)))} values")
        if arr.ndim == 0 or arr.shape[0] == 0:
            raise InvalidInput(f"{where}: expected at least one row")
        if tuple(arr.shape[1:]) != self.row_shape:
            if math.prod(arr.shape[1:]) != self.width:
                got = list(arr.shape[1:])
                raise InvalidInput(
                    f"{where}: expected rows of shape {list(self.row_shape)}, got {got}"
                )
            arr = arr.reshape((arr.shape[0], *self.row_shape))
        if self.np_dtype is object:
            return self._objects(arr, where)
        self.check_values(arr, where)
        return self._cast(arr, where)

    def _objects(self, arr: np.ndarray, where: str) -> np.ndarray:
        """A batch with string features: each cell checked and typed as its feature says.

        Numbers become Python floats, integers Python ints, booleans bools, so the model
        sees the same values whichever protocol (JSON, CSV, V2 tensors) carried them.
        """
        flat = arr.reshape(len(arr), -1)
        out = np.empty(flat.shape, dtype=object)
        for j, (name, kind, dtype) in enumerate(
            zip(self.names, self.kinds, self.dtypes, strict=True)
        ):
            for i, value in enumerate(flat[:, j]):
                out[i, j] = self._cell(value, kind, dtype, f"{where}[{i}] (feature '{name}')")
        return out.reshape(arr.shape)

    def _cell(self, value: Any, kind: str, dtype: str, where: str) -> Any:
        if kind == "string":
            if isinstance(value, str):
                return value
        elif kind == "boolean":
            if isinstance(value, bool | np.bool_):
                return bool(value)
        elif value is None and kind == "number" and self.schema.allow_nan:
            return math.nan
        elif isinstance(value, int | float | np.integer | np.floating) and not isinstance(
            value, bool | np.bool_
        ):
            return self._number(value, kind, dtype, where)
        got = "null" if value is None else type(value).__name__
        raise InvalidInput(f"{where}: expected {kind}, got {got}")

    def _number(self, value: Any, kind: str, dtype: str, where: str) -> int | float:
        if kind == "integer":
            if isinstance(value, float | np.floating) and not float(value).is_integer():
                raise InvalidInput(f"{where}: expected an integer")
            whole = int(value)
            info = np.iinfo(_NP[dtype])
            if not info.min <= whole <= info.max:
                raise InvalidInput(f"{where}: value out of range for {dtype}")
            return whole
        number = float(value)
        if dtype == "float32":
            with np.errstate(over="ignore"):
                narrow = float(np.float32(number))
            if math.isinf(narrow) and math.isfinite(number):
                raise InvalidInput(f"{where}: value out of range for float32")
            number = narrow
        if not self.schema.allow_nan and not math.isfinite(number):
            raise InvalidInput(f"{where}: NaN or infinity is not allowed")
        return number

    def _cast(self, arr: np.ndarray, where: str) -> np.ndarray:
        """``arr`` in the batch dtype, refusing values the cast would wrap or overflow."""
        target = np.dtype(self.np_dtype)
        if arr.dtype == target:
            return arr
        if target.kind == "i" and arr.dtype.kind in "iuf":
            info = np.iinfo(target)
            if arr.dtype.kind == "f":  # -info.min is a power of two, exact as a float
                self._refuse((arr < info.min) | (arr >= -float(info.min)), where, target)
            elif not np.can_cast(arr.dtype, target):
                high = arr > info.max
                self._refuse(
                    high if arr.dtype.kind == "u" else high | (arr < info.min), where, target
                )
        with np.errstate(over="ignore"):
            out = arr.astype(target)
        if target.kind == "f" and arr.dtype.kind == "f":
            self._refuse(np.isinf(out) & np.isfinite(arr), where, target)
        return out

    def _refuse(self, outside: np.ndarray, where: str, target: np.dtype[Any]) -> None:
        if outside.any():
            i, j = np.argwhere(outside.reshape(len(outside), -1))[0]
            raise InvalidInput(
                f"{where}[{i}] (feature '{self.names[j]}'): value out of range for {target}"
            )

    def check_values(self, arr: np.ndarray, where: str) -> None:
        """Whole numbers in integer features, no NaN/inf unless ``allow_nan``."""
        if arr.dtype.kind != "f" and arr.dtype != object:
            return
        flat = arr.reshape(arr.shape[0], -1)
        if self.int_cols and arr.dtype.kind == "f":
            cols = flat[:, self.int_cols]
            bad = np.argwhere(cols != np.floor(cols))
            if bad.size:
                i, j = bad[0]
                name = self.names[self.int_cols[j]]
                raise InvalidInput(f"{where}[{i}] (feature '{name}'): expected an integer")
        if not self.schema.allow_nan and arr.dtype.kind == "f":
            finite = np.isfinite(flat)
            if not finite.all():
                i, j = np.argwhere(~finite)[0]
                raise InvalidInput(
                    f"{where}[{i}] (feature '{self.names[j]}'): NaN or infinity is not allowed"
                )

    def decode_csv(self, text: str, where: str = "body") -> np.ndarray:
        """SageMaker's CSV: one row per line, no header.

        With string features the csv module parses the whole text, so a quoted cell may
        hold commas, quotes and newlines; all-number rows are split on commas.
        """
        strings = self.np_dtype is object
        if strings:
            lines, cells = self._csv_records(text, where)
        else:
            numbered = [(n, ln) for n, ln in enumerate(text.splitlines(), 1) if ln.strip()]
            lines = [n for n, _ in numbered]
            cells = [line.split(",") for _, line in numbered]
        if not cells:
            raise InvalidInput(f"{where}: empty CSV")
        for line, row in zip(lines, cells, strict=True):
            if len(row) != self.width:
                raise InvalidInput(
                    f"{where} line {line}: expected {self.width} values, got {len(row)}"
                )
        if strings:
            parsed = [
                [self.csv_cell(cell, j, f"{where} line {line}") for j, cell in enumerate(row)]
                for line, row in zip(lines, cells, strict=True)
            ]
            return self.from_array(np.array(parsed, dtype=object), where)
        try:
            arr = np.array(cells, dtype=np.float64)
        except ValueError:
            for i, row in enumerate(cells):
                for j, cell in enumerate(row):
                    try:
                        float(cell)
                    except ValueError:
                        raise InvalidInput(
                            f"{where} line {i + 1} (feature '{self.names[j]}'): "
                            f"'{cell.strip()[:40]}' is not a number"
                        ) from None
            raise
        return self.from_array(arr, where)

    def _csv_records(self, text: str, where: str) -> tuple[list[int], list[list[str]]]:
        """Records of the whole text, each with the line it starts on; blank lines skipped."""
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        lines: list[int] = []
        cells: list[list[str]] = []
        start = 1
        try:
            for row in reader:
                blank = not row or (self.width > 1 and len(row) == 1 and not row[0].strip())
                if not blank:
                    lines.append(start)
                    cells.append(row)
                start = reader.line_num + 1
        except csv.Error as err:
            raise InvalidInput(f"{where} line {start}: not valid CSV: {err}") from err
        return lines, cells

    def csv_cell(self, cell: str, j: int, where: str) -> Any:
        """One CSV cell parsed as its feature's kind (the rest is checked by ``_objects``)."""
        kind = self.kinds[j]
        if kind == "string":
            return cell
        text = cell.strip()
        if kind == "boolean":
            flag = {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
            if flag is None:
                raise InvalidInput(
                    f"{where} (feature '{self.names[j]}'): '{text[:40]}' is not a boolean"
                )
            return flag
        try:
            return int(text) if kind == "integer" and text.lstrip("+-").isdigit() else float(text)
        except ValueError:
            raise InvalidInput(
                f"{where} (feature '{self.names[j]}'): '{text[:40]}' is not a number"
            ) from None
