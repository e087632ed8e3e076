"""Captured records decoded into scored rows: the runtime's own format and SageMaker's.

The runtime writes ``{"kind": "prediction", "ts", "model", "version", "id", "route",
"inputs", "outputs"}`` (``kind`` absent in local ``*.jsonl`` files; ``inputs`` is the
request's rows, ``outputs`` one entry per row) and ``{"kind": "feedback", ...}``, which
the drift report does not score. SageMaker's data capture writes
``{"captureData": {"endpointInput": {"data", "encoding", "observedContentType"},
"endpointOutput": {...}}, "eventMetadata": {"inferenceTime"}}`` where ``encoding`` is
``JSON``, ``CSV`` or ``BASE64`` (the body as it came, typed by ``observedContentType``).
A line that is neither yields a ``Skipped`` with the reason, never an exception.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

__all__ = ["Captured", "Ignored", "Skipped", "decode_line"]


@dataclass(frozen=True)
class Captured:
    """One captured request: its rows, their outputs and when it was served."""

    ts: float | None
    rows: list[Any]
    outputs: list[Any] | None
    version: str | None = None
    source_format: str = "inferstack"
    """``inferstack`` or ``sagemaker``."""


@dataclass(frozen=True)
class Skipped:
    """A line that could not be read as a captured request, and why."""

    reason: str


@dataclass(frozen=True)
class Ignored:
    """A record of another kind (feedback): read, not scored."""

    kind: str


def decode_line(line: bytes) -> Captured | Skipped | Ignored | None:
    """The request a JSON line holds; None for a blank line."""
    if not line.strip():
        return None
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return Skipped("line is not JSON")
    if not isinstance(record, dict):
        return Skipped("record is not a JSON object")
    if "captureData" in record:
        return _sagemaker(record)
    kind = record.get("kind", "prediction")
    if kind != "prediction":
        return Ignored(str(kind))
    return _inferstack(record)


def _inferstack(record: dict[str, Any]) -> Captured | Skipped:
    rows = record.get("inputs")
    if not isinstance(rows, list):
        return Skipped("record has no 'inputs' list")
    outputs = record.get("outputs")
    ts = record.get("ts")
    if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int | float)):
        return Skipped("record's 'ts' is not a number")
    version = record.get("version")
    return Captured(
        None if ts is None else float(ts),
        rows,
        outputs if isinstance(outputs, list) else None,
        str(version) if version is not None else None,
    )


def _sagemaker(record: dict[str, Any]) -> Captured | Skipped:
    data = record.get("captureData")
    if not isinstance(data, dict) or not isinstance(data.get("endpointInput"), dict):
        return Skipped("SageMaker record without captureData.endpointInput")
    try:
        body = _body(data["endpointInput"])
        rows = _request_rows(body)
        out = data.get("endpointOutput")
        outputs = _response_outputs(_body(out)) if isinstance(out, dict) else None
    except ValueError as err:
        return Skipped(f"SageMaker record: {err}")
    meta = record.get("eventMetadata")
    when = meta.get("inferenceTime") if isinstance(meta, dict) else None
    return Captured(_iso_seconds(when), rows, outputs, None, "sagemaker")


def _iso_seconds(text: Any) -> float | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _body(part: dict[str, Any]) -> Any:
    """A captured body decoded: parsed JSON, or CSV as a list of rows."""
    data, encoding = part.get("data"), str(part.get("encoding", "")).upper()
    kind = str(part.get("observedContentType", "")).lower()
    if not isinstance(data, str):
        raise ValueError("'data' is not a string")
    if encoding == "BASE64":
        try:
            data = base64.b64decode(data, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as err:
            raise ValueError(f"BASE64 data does not decode: {err}") from err
        encoding = "CSV" if "csv" in kind else "JSON"
    if encoding == "JSON":
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as err:
            raise ValueError("JSON data does not parse") from err
    if encoding == "CSV":
        return [[_cell(v) for v in row] for row in csv.reader(io.StringIO(data)) if row]
    raise ValueError(f"unknown encoding {encoding or '(none)'!r}")


def _cell(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text


def _request_rows(body: Any) -> list[Any]:
    """Rows of a JSON request (``instances``, ``inputs``, a V2 tensor) or of CSV."""
    if isinstance(body, dict):
        if isinstance(body.get("dataframe_split"), dict):
            split = body["dataframe_split"]
            cols, data = split.get("columns"), split.get("data")
            if isinstance(cols, list) and isinstance(data, list):
                return [dict(zip(cols, r, strict=False)) for r in data if isinstance(r, list)]
        for key in ("instances", "inputs"):
            if key in body:
                return _v2_rows(body[key]) if _is_v2(body[key]) else _listed(body[key])
        raise ValueError("JSON request has no 'instances' or 'inputs'")
    return _listed(body)


def _is_v2(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 1
        and isinstance(value[0], dict)
        and ("datatype" in value[0] and "data" in value[0])
    )


def _v2_rows(tensors: list[dict[str, Any]]) -> list[Any]:
    shape, data = tensors[0].get("shape"), tensors[0]["data"]
    if not isinstance(shape, list) or not isinstance(data, list) or not shape:
        raise ValueError("V2 input tensor without shape or data")
    width = len(data) // max(int(shape[0]), 1)
    flat = [v for r in data for v in r] if data and isinstance(data[0], list) else data
    return [flat[i : i + width] for i in range(0, len(flat), width)]


def _listed(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("request rows are not a list")
    return value


def _response_outputs(body: Any) -> list[Any] | None:
    if isinstance(body, dict):
        for key in ("predictions", "outputs"):
            if isinstance(body.get(key), list):
                return list(body[key])
        return None
    if isinstance(body, list):
        # CSV: one row per line; a single value per line is that value.
        return [r[0] if isinstance(r, list) and len(r) == 1 else r for r in body]
    return None
