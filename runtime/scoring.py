"""Batch scoring: a bundle over CSV or Parquet files, chunked, in parallel, resumable.

Each worker process loads the bundle with the server's loader (``load_bundle``: files
checked against their digests, the probe run) and scores chunks the way the server
answers a request: the chunk's rows go through the server's input checks
(``RowDecoder.from_array``, the V2 tensor and CSV path) and ``ServedModel.run``. When a
chunk holds rows that fail the schema, each of its rows is checked alone with the
server's JSON decoder, whose message (naming the feature) becomes the row's reason in
the rejects file; the other rows are scored. Each output line is led by the row's
number in its file (0 = the first row after the header); numbers are written as the
server's JSON answer writes them, labels as its CSV answer does.

The parent reads chunks (see ``batch_input``) and keeps at most two per worker in
flight, so memory stays constant whatever the input size. See ``batch_output`` for
the output folder and how a re-run resumes.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from inferstack.runtime import protocols
from inferstack.runtime.batch_input import Chunk, input_files, read_chunks, total_rows
from inferstack.runtime.batch_output import (
    Ledger,
    csv_lines,
    part_path,
    rejects_path,
    write_atomic,
)
from inferstack.runtime.errors import InvalidInput
from inferstack.runtime.integrity import sha256_file
from inferstack.runtime.manifest import MANIFEST_NAME, read_manifest
from inferstack.runtime.model import ServedModel, load_bundle

DEFAULT_CHUNK_ROWS = 10_000
Progress = Callable[[int, int | None], None]
"""Called with (rows done, rows in all inputs or None when unknown) after each chunk."""


@dataclass(frozen=True)
class ScoreResult:
    """What a job did: chunks and rows in the output, and how many this run scored."""

    chunks: int
    rows: int
    rejected: int
    scored_now: int
    out: Path


def decode_frame(
    model: ServedModel, frame: Any, first_row: int
) -> tuple[np.ndarray, list[int], list[list[Any]]]:
    """The valid rows of ``frame`` as a batch, their row numbers, and the rejects.

    Rejects are ``[row, reason]`` with the server's message for the row. A CSV column
    holding one cell that is not a number is read as text; its cells are then parsed
    as the server parses a CSV body's cells.
    """
    decoder = model.decoder
    arr = frame.to_numpy()
    rows = list(range(first_row, first_row + len(arr)))
    try:
        return decoder.from_array(arr, "rows"), rows, []
    except InvalidInput:
        pass  # some rows are bad: find them one by one
    good: list[int] = []
    rejects: list[list[Any]] = []
    cells = arr.tolist()
    text_cells = [j for j, k in enumerate(decoder.kinds) if k != "string"]
    for i, row in enumerate(cells):
        where = f"row {rows[i]}"
        try:
            for j in text_cells:  # a bad cell leaves its CSV column as text: parse it
                if isinstance(row[j], str):
                    row[j] = decoder.csv_cell(row[j], j, where)
            decoder.decode([row], where)
        except InvalidInput as err:
            rejects.append([rows[i], err.message.replace(f"{where}[0]", where, 1)])
            continue
        good.append(i)
    if not good:
        return arr[:0], [], rejects
    return decoder.decode([cells[i] for i in good], "rows"), [rows[i] for i in good], rejects


def score_chunk(model: ServedModel, chunk: Chunk, out: Path) -> dict[str, Any]:
    """Score one chunk into its part (and rejects) file; returns its ledger entry."""
    batch, rows, rejects = decode_frame(model, chunk.frame, chunk.first_row)
    body, width = b"", 1
    if len(rows):
        predictions = np.asarray(model.run(batch))
        flat = predictions.reshape(len(predictions), -1)
        body, width = _prediction_lines(rows, flat), flat.shape[1]
    write_atomic(part_path(out, chunk.key), ["row", *_output_names(model, width)], body)
    if rejects:
        write_atomic(rejects_path(out, chunk.key), ["row", "reason"], csv_lines(rejects))
    else:
        rejects_path(out, chunk.key).unlink(missing_ok=True)
    return {"chunk": chunk.key, "rows": len(rows), "rejected": len(rejects)}


def _prediction_lines(rows: list[int], flat: np.ndarray) -> bytes:
    """CSV lines ``row,cell,...``: finite numbers as the server's JSON answer writes them
    (orjson, shortest round-trip), anything else as its CSV answer does."""
    if flat.dtype.kind in "fiu" and np.isfinite(flat).all():
        body = orjson.dumps(np.ascontiguousarray(flat), option=orjson.OPT_SERIALIZE_NUMPY)
        cells = body[2:-2].split(b"],[")
        numbers = orjson.dumps(rows)[1:-1].split(b",")
        return b"\n".join(map(b",".join, zip(numbers, cells, strict=True))) + b"\n"
    return csv_lines(
        [[r, *(protocols.csv_safe(v) for v in p)] for r, p in zip(rows, flat.tolist(), strict=True)]
    )


def _output_names(model: ServedModel, width: int) -> list[str]:
    names = model.manifest.output.names
    if names and len(names) == width:
        return list(names)
    return ["prediction"] if width == 1 else [f"prediction_{j}" for j in range(width)]


# ---- the worker processes ------------------------------------------------------------
_MODEL: ServedModel | None = None


def _load_worker(bundle_dir: str, allow_pickle: bool) -> None:
    global _MODEL  # one model per worker process, loaded once
    _MODEL = load_bundle(bundle_dir, allow_pickle=allow_pickle)


def _score_in_worker(chunk: Chunk, out: Path) -> dict[str, Any]:
    assert _MODEL is not None
    return score_chunk(_MODEL, chunk, out)


# ---- the job ---------------------------------------------------------------------------
def score(
    bundle_dir: str | Path,
    source: str | Path,
    out: str | Path,
    *,
    workers: int | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    allow_pickle: bool = False,
    progress: Progress | None = None,
) -> ScoreResult:
    """Score every row of ``source`` with the bundle into ``out``; resumes a cut-off job.

    ``workers`` processes (default: the machine's cores) each load the bundle once;
    ``workers=0`` scores in this process. Raises ``InvalidInput`` for an unreadable
    input or a missing column, ``ConfigError`` when ``out`` holds another job, and
    ``BundleError`` when the bundle does not load.
    """
    if chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be at least 1, got {chunk_rows}")
    bundle_dir, out = Path(bundle_dir), Path(out)
    manifest = read_manifest(bundle_dir)
    files = input_files(source)
    ledger = Ledger(
        out,
        {
            "bundle": f"{manifest.name} {manifest.version}",
            "manifest_sha256": sha256_file(bundle_dir / MANIFEST_NAME),
            "inputs": [f.fingerprint() for f in files],
            "chunk_rows": chunk_rows,
        },
    )
    names = manifest.input.names
    if len(manifest.input.row_shape) != 1:
        raise InvalidInput("batch scoring reads tables: the bundle's input is a tensor shape")
    total = total_rows(files)
    done_before = ledger.totals()
    state = {"done": done_before["rows"] + done_before["rejected"], "now": 0}

    def finished(entry: dict[str, Any]) -> None:
        ledger.record(entry)
        state["done"] += entry["rows"] + entry["rejected"]
        state["now"] += entry["rows"]
        if progress is not None:
            progress(state["done"], total)

    if progress is not None:
        progress(state["done"], total)
    pending = (c for c in read_chunks(files, names, chunk_rows) if not ledger.finished(c.key))
    count = workers if workers is not None else os.cpu_count() or 1
    if count == 0:
        model = load_bundle(bundle_dir, allow_pickle=allow_pickle)
        for chunk in pending:
            finished(score_chunk(model, chunk, out))
    else:
        _run_pool(pending, out, count, str(bundle_dir), allow_pickle, finished)
    totals = ledger.succeed()
    return ScoreResult(totals["chunks"], totals["rows"], totals["rejected"], state["now"], out)


def _run_pool(
    chunks: Iterator[Chunk],
    out: Path,
    workers: int,
    bundle_dir: str,
    allow_pickle: bool,
    finished: Callable[[dict[str, Any]], None],
) -> None:
    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_load_worker, initargs=(bundle_dir, allow_pickle)
    ) as pool:
        running: set[Future[dict[str, Any]]] = set()
        for chunk in chunks:
            running.add(pool.submit(_score_in_worker, chunk, out))
            if len(running) >= 2 * workers:
                running = _settle(running, finished)
        while running:
            running = _settle(running, finished)


def _settle(
    running: set[Future[dict[str, Any]]], finished: Callable[[dict[str, Any]], None]
) -> set[Future[dict[str, Any]]]:
    """Wait for at least one chunk; record the finished ones; return those still running."""
    done, left = wait(running, return_when=FIRST_COMPLETED)
    for fut in done:
        finished(fut.result())  # a worker's error (a model that raises) ends the job here
    return left


__all__ = ["DEFAULT_CHUNK_ROWS", "ScoreResult", "decode_frame", "score", "score_chunk"]
