"""Batch scoring: a bundle over CSV or Parquet files, chunked, in parallel, resumable.

Each worker process loads the bundle with the server's loader (``load_bundle``: files
checked against their digests, the probe run, the server's fast path for linear
models) and scores chunks the way the server answers a request. A chunk's columns are
checked at once (see ``batch_decode``): rows that fail the schema go to the rejects
file with the server's message for that row (naming the feature); the others become
one batch, typed as the server types a request, for ``ServedModel.run``. Part files
are CSV (numbers as the server's JSON answer writes them) or Parquet.

The parent reads chunks (see ``batch_input``) and keeps at most two per worker in
flight, so memory stays constant whatever the input size. See ``batch_output`` for
the output folder and how a re-run resumes.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inferstack.runtime.batch_decode import decode_columns
from inferstack.runtime.batch_input import Chunk, input_files, read_chunks, total_rows
from inferstack.runtime.batch_output import (
    FORMATS,
    Ledger,
    PartFormat,
    csv_lines,
    part_path,
    rejects_path,
    write_atomic,
    write_part,
)
from inferstack.runtime.errors import InvalidInput
from inferstack.runtime.frames import FrameBuilder
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


def score_chunk(
    model: ServedModel, chunk: Chunk, out: Path, fmt: PartFormat = "csv"
) -> dict[str, Any]:
    """Score one chunk into its part (and rejects) file; returns its ledger entry."""
    decoded = decode_columns(model.decoder, chunk.columns, chunk.first_row, takes_columns(model))
    if decoded.batch is not None:
        predictions = np.asarray(model.run(decoded.batch))
        flat = predictions.reshape(len(predictions), -1)
    else:  # every row rejected
        flat = _no_predictions(model)
    names = _output_names(model, flat.shape[1])
    write_part(part_path(out, chunk.key, fmt), names, decoded.rows, flat, fmt)
    rejects = decoded.rejects
    if rejects:
        write_atomic(rejects_path(out, chunk.key), ["row", "reason"], csv_lines(rejects))
    else:
        rejects_path(out, chunk.key).unlink(missing_ok=True)
    return {"chunk": chunk.key, "rows": len(decoded.rows), "rejected": len(rejects)}


def takes_columns(model: ServedModel) -> bool:
    """Whether the model's preprocessing builds a DataFrame from a batch with string
    features: then its batch is handed over as ``Columns``, from which ``FrameBuilder``
    builds the same DataFrame as from the server's rows batch, without a Python object
    per cell. (The scikit-learn, LightGBM and XGBoost predictors keep their builder in
    ``frame``; scikit-learn's linear fast path, ``fast``, takes numbers only.)"""
    predictor = model.predictor
    return (
        model.decoder.np_dtype is object
        and isinstance(getattr(predictor, "frame", None), FrameBuilder)
        and getattr(predictor, "fast", None) is None
    )


def _no_predictions(model: ServedModel) -> np.ndarray:
    """No rows, as wide and of the type of the model's answers (its load-time probe's, else
    the manifest's output names): a chunk whose every row was rejected writes a part file
    of the same columns and column types as the others, which readers of the folder as
    one table need."""
    probe = model.probe_output
    if probe is not None and probe.ndim >= 1 and len(probe):
        answer = probe.reshape(len(probe), -1)
        return np.empty((0, answer.shape[1]), dtype=answer.dtype)
    names = model.manifest.output.names
    return np.empty((0, len(names) if names else 1))


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


def _score_in_worker(payload: bytes, out: Path, fmt: PartFormat) -> dict[str, Any]:
    assert _MODEL is not None
    return score_chunk(_MODEL, pickle.loads(payload), out, fmt)  # noqa: S301 - our own chunk


def _payload(chunk: Chunk) -> bytes:
    # Pickle's protocol 5 copies a column's buffer once; the pool's default (4) goes
    # through ndarray.tobytes and costs more than scoring a chunk of a small model.
    return pickle.dumps(chunk, protocol=5)


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
    part_format: PartFormat = "csv",
    model: ServedModel | None = None,
) -> ScoreResult:
    """Score every row of ``source`` with the bundle into ``out``; resumes a cut-off job.

    ``workers`` processes (default: the machine's cores) each load the bundle once;
    ``workers=0`` scores in this process, with ``model`` if given (the bundle, already
    loaded: a caller scoring many sources loads it once). ``part_format`` is the part
    files' format (``csv`` or ``parquet``). Raises ``InvalidInput`` for an unreadable
    input or a missing column, ``ConfigError`` when ``out`` holds another job, and
    ``BundleError`` when the bundle does not load.
    """
    if chunk_rows < 1:
        raise InvalidInput(f"chunk_rows must be at least 1, got {chunk_rows}")
    if model is not None and workers != 0:
        raise InvalidInput("a loaded model scores in this process: pass workers=0 with it")
    if part_format not in FORMATS:
        raise InvalidInput(f"part_format must be one of {', '.join(FORMATS)}, got {part_format!r}")
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
            **({"part_format": part_format} if part_format != "csv" else {}),
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
    dtypes = zip(names, manifest.input.dtypes, strict=True)
    strings = frozenset(n for n, d in dtypes if d == "string")
    chunks = read_chunks(files, names, chunk_rows, strings)
    pending = (c for c in chunks if not ledger.finished(c.key))
    count = workers if workers is not None else os.cpu_count() or 1
    if count == 0:
        if model is None:
            model = load_bundle(bundle_dir, allow_pickle=allow_pickle)
        for chunk in pending:
            finished(score_chunk(model, chunk, out, part_format))
    else:
        _run_pool(pending, out, part_format, count, str(bundle_dir), allow_pickle, finished)
    totals = ledger.succeed()
    return ScoreResult(totals["chunks"], totals["rows"], totals["rejected"], state["now"], out)


def _run_pool(
    chunks: Iterator[Chunk],
    out: Path,
    fmt: PartFormat,
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
            running.add(pool.submit(_score_in_worker, _payload(chunk), out, fmt))
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


__all__ = ["DEFAULT_CHUNK_ROWS", "ScoreResult", "score", "score_chunk"]
