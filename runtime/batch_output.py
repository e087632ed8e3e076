"""Batch scoring's output folder: part files, rejects, and the ledger of finished chunks.

Layout of ``OUTPUT/``::

    _job.json                       the bundle, the inputs and chunk size of this job
    _done.jsonl                     one line per finished chunk (appended)
    part-FFFF-CCCCCC.csv            predictions of chunk C of input file F (or .parquet)
    rejects-FFFF-CCCCCC.csv         its rows that failed the schema (only if any)
    _SUCCESS                        written last: the job's totals

A chunk's files are written under a temporary name and renamed into place before the
chunk enters ``_done.jsonl``, so a chunk cut off by a kill is simply redone (its
files overwritten) and never counted twice.

A part file holds a ``row`` column (the row's number in its input file, 0 = the first
row after a CSV header) and the model's outputs. As CSV (the default), finite numbers
are written as the server's JSON answer writes them (orjson: the shortest text that
reads back as the same float) and anything else as its CSV answer does. As Parquet, the
numbers are stored as they are (float64 or the model's integer type): no text to
format, which is what a job whose model is cheap spends most of its time on.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson

from inferstack.runtime import protocols
from inferstack.runtime.errors import ConfigError

JOB = "_job.json"
DONE = "_done.jsonl"
SUCCESS = "_SUCCESS"
PartFormat = Literal["csv", "parquet"]
FORMATS: tuple[PartFormat, ...] = ("csv", "parquet")


def part_path(out: Path, key: str, fmt: PartFormat = "csv") -> Path:
    """The predictions file of chunk ``key``."""
    return out / f"part-{key}.{fmt}"


def rejects_path(out: Path, key: str) -> Path:
    """The rejects file of chunk ``key``."""
    return out / f"rejects-{key}.csv"


def csv_lines(rows: list[list[Any]]) -> bytes:
    """Rows as CSV lines (the csv module's quoting)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue().encode()


def write_atomic(path: Path, header: list[str], body: bytes | memoryview) -> None:
    """Write a header line and ``body`` under a temporary name, then rename it to ``path``."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        fh.write(csv_lines([header]))
        fh.write(body)
    os.replace(tmp, path)


def write_part(
    path: Path, names: list[str], rows: np.ndarray, flat: np.ndarray, fmt: PartFormat
) -> None:
    """A chunk's predictions (``flat``: one line per row) with their row numbers."""
    if fmt == "parquet":
        _write_parquet(path, ["row", *names], rows, flat)
    else:
        write_atomic(path, ["row", *names], prediction_lines(rows, flat))


def prediction_lines(rows: np.ndarray, flat: np.ndarray) -> bytes | memoryview:
    """CSV lines ``row,cell,...`` (see the module's docstring for how cells are written)."""
    if not len(rows):
        return b""
    if flat.dtype.kind in "fiu" and flat.shape[1] and np.isfinite(flat).all():
        return _number_lines(rows, flat)
    return csv_lines(
        [
            [r, *(protocols.csv_safe(v) for v in p)]
            for r, p in zip(rows.tolist(), flat.tolist(), strict=True)
        ]
    )


def _number_lines(rows: np.ndarray, flat: np.ndarray) -> memoryview:
    """Finite numbers as orjson writes them, joined into lines without a Python object
    per cell: orjson writes the row numbers and the cells (one flat array each), the
    separators after every cell of a row but its last become the line ends, and
    pyarrow joins each row's number to its line (all in C)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    option = orjson.OPT_SERIALIZE_NUMPY
    numbers = bytearray(orjson.dumps(np.ascontiguousarray(rows, dtype=np.int64), option=option))
    cells = bytearray(orjson.dumps(np.ascontiguousarray(flat).ravel(), option=option))
    # "[1,2,3]" -> "1,2,3," : every value ends with its separator
    del numbers[0], cells[0]
    numbers[-1] = cells[-1] = ord(",")
    ends = _ends(cells, ord(","))[flat.shape[1] - 1 :: flat.shape[1]]
    np.frombuffer(cells, dtype=np.uint8)[ends] = ord("\n")
    empty = pa.scalar(b"", pa.large_binary())
    joined = pc.binary_join_element_wise(
        _values(numbers, _ends(numbers, ord(","))), _values(cells, ends), empty
    )
    _, offsets, data = joined.buffers()
    bounds = np.frombuffer(offsets, dtype=np.int64)
    return memoryview(data)[bounds[0] : bounds[len(joined)]]


def _ends(text: bytearray, separator: int) -> np.ndarray:
    return np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == separator)


def _values(text: bytearray, ends: np.ndarray) -> Any:
    """A pyarrow binary array over ``text`` whose values end after each of ``ends``."""
    import pyarrow as pa

    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = ends + 1
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    return pa.LargeBinaryArray.from_buffers(pa.large_binary(), len(ends), buffers)


def _write_parquet(path: Path, header: list[str], rows: np.ndarray, flat: np.ndarray) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [pa.array(rows, type=pa.int64())]
    for j in range(flat.shape[1]):
        col = flat[:, j]
        # labels (and any other objects) as text
        columns.append(pa.array(col if col.dtype.kind in "fiub" else col.astype(str)))
    tmp = path.with_name(path.name + ".tmp")
    # Dictionary encoding and statistics cost more than the rest of the write and do
    # nothing for unique floats; nor does compression (snappy: 15 % of the write, no
    # gain on such floats). Without the stored Arrow schema the types read back are the
    # same (int64, double, string), and the write is another 10 % cheaper.
    table = pa.Table.from_arrays(columns, names=header)
    with pa.OSFile(str(tmp), "wb") as sink:  # a file, not a path: no filesystem lookup
        pq.write_table(
            table,
            sink,
            use_dictionary=False,
            write_statistics=False,
            compression="none",
            store_schema=False,
        )
    os.replace(tmp, path)


class Ledger:
    """The job's record in ``OUTPUT``: which chunks are finished, and of what job."""

    def __init__(self, out: Path, job: dict[str, Any]) -> None:
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        path = out / JOB
        if path.exists():
            recorded = orjson.loads(path.read_bytes())
            if recorded != job:
                changed = sorted(
                    k for k in job.keys() | recorded.keys() if job.get(k) != recorded.get(k)
                )
                raise ConfigError(
                    f"output folder '{out}' holds a job with other {', '.join(changed)}: "
                    "give another --out, or empty this one to start again"
                )
        elif any(p.name != DONE for p in out.iterdir()):
            raise ConfigError(f"output folder '{out}' is not empty and holds no scoring job")
        else:
            path.write_bytes(orjson.dumps(job, option=orjson.OPT_INDENT_2))
        self.done: dict[str, dict[str, Any]] = {}
        ledger = out / DONE
        if ledger.exists():
            for line in ledger.read_bytes().splitlines():
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:  # a line cut off by a kill: that chunk is redone
                    continue
                self.done[entry["chunk"]] = entry
        (out / SUCCESS).unlink(missing_ok=True)

    def finished(self, key: str) -> bool:
        """Whether chunk ``key`` was finished by this or an earlier run."""
        return key in self.done

    def record(self, entry: dict[str, Any]) -> None:
        """Mark a chunk finished (after its files are in place)."""
        # Written and closed, it survives a kill of this process; no fsync: the part
        # files are not synced either, and a machine crash means scoring again.
        with (self.out / DONE).open("ab") as fh:
            fh.write(orjson.dumps(entry) + b"\n")
        self.done[entry["chunk"]] = entry

    def totals(self) -> dict[str, int]:
        """Rows scored and rejected over all finished chunks."""
        return {
            "chunks": len(self.done),
            "rows": sum(e["rows"] for e in self.done.values()),
            "rejected": sum(e["rejected"] for e in self.done.values()),
        }

    def succeed(self) -> dict[str, int]:
        """Write ``_SUCCESS`` with the totals; returns them."""
        totals = self.totals()
        (self.out / SUCCESS).write_bytes(orjson.dumps(totals))
        return totals
