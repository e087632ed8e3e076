"""Request bodies of each protocol to one batch, and outputs back to its response shape.

- ``/predict`` and SageMaker ``/invocations`` (JSON): ``{"instances": rows}``,
  ``{"inputs": rows}`` or a bare list of rows; rows are lists or feature-name objects.
- SageMaker CSV: one row per line, no header.
- Azure ML ``/score``: ``{"data": rows}`` or ``{"input_data": rows | {"columns", "data"}}``.
- Open Inference Protocol V2: ``{"inputs": [{"name", "shape", "datatype", "data"}]}``,
  one tensor of shape ``[N, *row_shape]`` or one ``[N]`` tensor per named feature;
  tensors may travel as raw bytes after the JSON (the binary tensor data extension,
  framed by ``v2_binary``, bytes to arrays in ``v2_tensors``).
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from typing import Any

import numpy as np
import orjson

from inferstack.runtime import v2_binary, v2_tensors
from inferstack.runtime.errors import InvalidInput
from inferstack.runtime.schema import RowDecoder
from inferstack.runtime.v2_tensors import NP_TO_V2, V2_TO_NP, datatype_of

_PY_FOR_V2: dict[str, tuple[type, ...]] = {"BOOL": (bool,), "BYTES": (str,)}
# numpy dtype kinds a feature tensor may have, by the feature's kind
_KINDS_FOR = {"number": "fiu", "integer": "fiu", "boolean": "b", "string": "OU"}
JSON_OPTS = orjson.OPT_SERIALIZE_NUMPY


def parse_json(body: bytes) -> Any:
    """Decode a JSON body; a syntax error is a 400 naming the position."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise InvalidInput(f"body: malformed JSON: {err}") from err


def rows_from(obj: Any, keys: tuple[str, ...]) -> tuple[Any, str]:
    """The rows of a JSON request and where they were found."""
    if isinstance(obj, list):
        return obj, "body"
    if isinstance(obj, dict):
        for key in keys:
            if key in obj:
                return obj[key], key
        raise InvalidInput(f"body: expected one of the keys {list(keys)}")
    raise InvalidInput("body: expected a JSON object or a list of rows")


def decode_json(obj: Any, decoder: RowDecoder) -> np.ndarray:
    """``/predict`` and ``/invocations`` JSON."""
    rows, where = rows_from(obj, ("instances", "inputs"))
    return decoder.decode(rows, where)


def decode_azure(obj: Any, decoder: RowDecoder) -> np.ndarray:
    """Azure ML scoring: ``data`` or ``input_data`` (MLflow split orient)."""
    rows, where = rows_from(obj, ("input_data", "data"))
    if isinstance(rows, dict):
        columns, data = rows.get("columns"), rows.get("data")
        if columns is not None:
            if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
                raise InvalidInput("input_data.columns: expected a list of feature names")
            if not isinstance(data, list):
                raise InvalidInput("input_data.data: expected a list of rows")
            for i, r in enumerate(data):
                if isinstance(r, list) and len(r) != len(columns):
                    raise InvalidInput(
                        f"input_data.data[{i}]: {len(r)} values for {len(columns)} columns"
                    )
            rows = [dict(zip(columns, r, strict=True)) if isinstance(r, list) else r for r in data]
        else:
            rows = data
        where = f"{where}.data"
    return decoder.decode(rows, where)


def decode_v2(obj: Any, decoder: RowDecoder, binary: memoryview | None = None) -> np.ndarray:
    """Open Inference Protocol V2 request tensors; ``binary`` is the body's bytes after
    its JSON header (binary tensor data extension), None for a JSON-only body."""
    if not isinstance(obj, dict) or not isinstance(obj.get("inputs"), list) or not obj["inputs"]:
        raise InvalidInput("inputs: expected a non-empty list of tensors")
    if binary is None:
        tensors = [_tensor(t, f"inputs[{i}]") for i, t in enumerate(obj["inputs"])]
    else:
        raws = v2_binary.input_buffers(obj["inputs"], binary)
        tensors = [
            _tensor(t, f"inputs[{i}]", raw)
            for i, (t, raw) in enumerate(zip(obj["inputs"], raws, strict=True))
        ]
    return tensors_to_batch(tensors, decoder)


def tensors_to_batch(tensors: list[tuple[str, np.ndarray]], decoder: RowDecoder) -> np.ndarray:
    """One checked batch from a V2 request's named tensors (HTTP and gRPC alike)."""
    if len(tensors) == 1 and (tensors[0][0] not in decoder.index or decoder.width == 1):
        return decoder.from_array(tensors[0][1], "inputs[0]")
    by_name = dict(tensors)
    if len(by_name) != len(tensors):
        twice = next(n for n, count in Counter(n for n, _ in tensors).items() if count > 1)
        raise InvalidInput(f"inputs: tensor '{twice[:100]}' is given more than once")
    missing = [n for n in decoder.names if n not in by_name]
    if missing:
        raise InvalidInput(f"inputs: missing feature tensor '{missing[0]}'")
    unknown = [n for n in by_name if n not in decoder.index]
    if unknown:
        raise InvalidInput(f"inputs: unknown feature tensor '{unknown[0][:100]}'")
    for name, kind in zip(decoder.names, decoder.kinds, strict=True):
        if by_name[name].dtype.kind not in _KINDS_FOR[kind]:
            raise InvalidInput(
                f"inputs: tensor '{name}' has datatype {datatype_of(by_name[name])}; "
                f"feature '{name}' expects {kind} values"
            )
    columns = [by_name[n].reshape(len(by_name[n]), -1) for n in decoder.names]
    if len({len(c) for c in columns}) != 1 or any(c.shape[1] != 1 for c in columns):
        raise InvalidInput("inputs: feature tensors must all have shape [N] or [N, 1]")
    kinds = {c.dtype.kind for c in columns}
    dtype = object if "U" in kinds or "O" in kinds else np.result_type(*columns)
    return decoder.from_array(np.hstack([c.astype(dtype) for c in columns]), "inputs")


def _tensor(t: Any, where: str, raw: memoryview | None = None) -> tuple[str, np.ndarray]:
    if not isinstance(t, dict):
        raise InvalidInput(f"{where}: expected a tensor object")
    name, shape, datatype, data = t.get("name"), t.get("shape"), t.get("datatype"), t.get("data")
    if not isinstance(name, str):
        raise InvalidInput(f"{where}.name: expected a string")
    if (
        not isinstance(shape, list)
        or not all(type(d) is int and d >= 0 for d in shape)
        or not shape
    ):
        raise InvalidInput(f"{where}.shape: expected a list of non-negative integers")
    if not isinstance(datatype, str) or datatype not in V2_TO_NP:
        raise InvalidInput(
            f"{where}.datatype: expected one of {sorted(V2_TO_NP)}, got {datatype!r}"
        )
    if raw is not None:
        if data is not None:
            raise InvalidInput(f"{where}: give either data or parameters.binary_data_size")
        return name, v2_tensors.from_raw(raw, datatype, shape, where)
    if not isinstance(data, list):
        if v2_binary.binary_size(t, where) is not None:
            raise InvalidInput(
                f"{where}.parameters.binary_data_size is set but the request has no "
                "Inference-Header-Content-Length header saying where its JSON ends"
            )
        raise InvalidInput(f"{where}.data: expected a list")
    flat = _flatten(data, where)
    if len(flat) != math.prod(shape):
        raise InvalidInput(f"{where}.data: {len(flat)} values do not fill shape {shape}")
    allowed = _PY_FOR_V2.get(datatype, (int, float))
    for k, v in enumerate(flat):
        if type(v) not in allowed:
            raise InvalidInput(f"{where}.data[{k}]: expected {datatype}, got {type(v).__name__}")
    if datatype.startswith(("INT", "UINT")) and any(type(v) is not int for v in flat):
        raise InvalidInput(f"{where}.data: expected integers for {datatype}")
    try:
        arr: np.ndarray = np.array(flat, dtype=V2_TO_NP[datatype]).reshape(shape)
    except (OverflowError, ValueError) as err:
        raise InvalidInput(f"{where}.data: values do not fit {datatype}: {err}") from err
    return name, arr


def _flatten(data: list[Any], where: str) -> list[Any]:
    if not data or not isinstance(data[0], list):
        return data
    out: list[Any] = []
    stack = [data]
    while stack:  # iterative: a deeply nested body cannot exhaust the recursion limit
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(reversed(item))
        else:
            out.append(item)
    return out


def jsonable(out: Any) -> Any:
    """Outputs orjson can write: contiguous numeric arrays as is, others as lists."""
    if isinstance(out, np.ndarray):
        if out.dtype.kind in "fiub" and out.dtype.isnative:
            return np.ascontiguousarray(out)
        return out.tolist()
    return out


def encode_v2(out: Any, name: str, version: str, kind: str, request_id: Any) -> bytes:
    """A V2 inference response with one output tensor."""
    arr = np.asarray(out)
    datatype = NP_TO_V2.get(arr.dtype.str, "BYTES")
    data = arr.reshape(-1)
    tensor = {
        "name": kind,
        "datatype": datatype,
        "shape": list(arr.shape),
        "data": jsonable(data) if datatype != "BYTES" else [str(v) for v in data],
    }
    return orjson.dumps(_v2_response(tensor, name, version, request_id), option=JSON_OPTS)


def encode_v2_binary(
    out: Any, name: str, version: str, kind: str, request_id: Any
) -> tuple[bytes, int]:
    """A V2 response whose output travels as binary data after the JSON header; also
    returns the header's length (``Inference-Header-Content-Length``)."""
    arr = np.asarray(out)
    datatype, raw = v2_tensors.to_raw(arr)
    tensor = {
        "name": kind,
        "datatype": datatype,
        "shape": list(arr.shape),
        "parameters": {"binary_data_size": len(raw)},
    }
    header = orjson.dumps(_v2_response(tensor, name, version, request_id))
    return v2_binary.join(header, raw)


def _v2_response(tensor: dict[str, Any], name: str, version: str, request_id: Any) -> Any:
    payload: dict[str, Any] = {"model_name": name, "model_version": version, "outputs": [tensor]}
    if isinstance(request_id, str):
        payload["id"] = request_id
    return payload


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """A cell a spreadsheet shows as text: a string that would start a formula gets a
    leading single quote (OWASP's CSV injection guidance); numbers, and strings that are
    numbers (``-1.5``), stay as they are."""
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def encode_csv(out: Any) -> bytes:
    """Outputs as CSV, one line per row, safe to open in a spreadsheet."""
    arr = np.asarray(out)
    rows = arr.reshape(len(arr), -1).tolist() if arr.ndim else [[arr.item()]]
    buffer = io.StringIO()
    # csv quotes labels holding a comma, quote or newline; plain numbers stay bare.
    csv.writer(buffer, lineterminator="\n").writerows([[csv_safe(v) for v in r] for r in rows])
    return buffer.getvalue().encode()
