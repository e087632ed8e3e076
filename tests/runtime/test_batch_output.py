"""Part files' CSV text: numbers byte for byte as the server's JSON answer writes them."""

from __future__ import annotations

import csv
import io

import numpy as np
import orjson
import pytest

from inferstack.runtime import protocols
from inferstack.runtime.batch_output import prediction_lines


def _as_the_server_writes(rows: np.ndarray, flat: np.ndarray) -> bytes:
    """Each row's cells as the server's JSON answer writes that row, after its number."""
    lines = []
    for number, values in zip(rows.tolist(), flat, strict=True):
        cells = orjson.dumps(protocols.jsonable(values), option=protocols.JSON_OPTS)[1:-1]
        lines.append(str(number).encode() + b"," + cells + b"\n")
    return b"".join(lines)


_TRICKY = [1e-7, 5e-324, 2.2250738585072014e-308, 1e300, -0.0, 0.0, 3.0, 1 / 3, 0.1, 1e16]


@pytest.mark.parametrize(
    "flat",
    [
        np.random.default_rng(0).normal(size=(10_000, 2)),
        np.random.default_rng(1).normal(size=(300, 7)) * 1e-9,
        np.array(_TRICKY).reshape(-1, 1),
        np.array(_TRICKY * 3).reshape(-1, 3),
        np.random.default_rng(2).normal(size=(500, 3)).astype(np.float32),
        np.array([[np.iinfo(np.int64).min, np.iinfo(np.int64).max], [0, -1]], dtype=np.int64),
        np.random.default_rng(3).integers(-1000, 1000, size=(100, 1)).astype(np.int32),
        np.arange(256, dtype=np.uint8).reshape(-1, 1),
    ],
    ids=["proba", "tiny", "tricky", "tricky3", "float32", "int64", "int32", "uint8"],
)
def test_numbers_are_the_servers_json_numbers(flat: np.ndarray) -> None:
    # row numbers with gaps (rejected rows) and of every width
    rows = np.cumsum(np.random.default_rng(4).integers(1, 50_000, size=len(flat)))
    got = prediction_lines(rows, flat)
    assert bytes(got) == _as_the_server_writes(rows, flat)
    # and it is CSV that reads back as the same values
    back = list(csv.reader(io.StringIO(bytes(got).decode())))
    assert [int(r[0]) for r in back] == rows.tolist()
    np.testing.assert_array_equal(np.array([r[1:] for r in back], dtype=flat.dtype), flat)


def test_non_finite_numbers_and_labels_are_written_as_the_servers_csv_answer() -> None:
    rows = np.array([0, 5])
    flat = np.array([[np.nan, 1.5], [np.inf, -2.0]])
    assert prediction_lines(rows, flat) == b"0,nan,1.5\n5,inf,-2.0\n"
    labels = np.array([["=cmd", "cat"], ["a,b", "-1"]], dtype=object)
    assert prediction_lines(rows, labels) == b'0,\'=cmd,cat\n5,"a,b",-1\n'
    assert prediction_lines(rows[:0], flat[:0]) == b""
