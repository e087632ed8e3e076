"""Batch scoring throughput: `inferstack score` against the model in process, one command.

    .venv/bin/python bench/batch.py [--rows 200000] [--runs 3] [--chunk-rows 10000]

Writes ROWS rows of 20 features (the quickstart model's, examples/logreg-20f/bundle)
to a Parquet file and a CSV file, then times, per file, the median of RUNS runs of:

- ``in-process``: load the bundle, read the file in the same chunks with pandas and
  call the model (``ServedModel.run``: no schema checks, nothing written), one core;
- ``in-process+write``: the same, writing each chunk's predictions as CSV;
- ``score workers=0``: ``inferstack.runtime.scoring.score`` in this process, one core
  (schema checks, the output folder and its ledger included);
- ``score workers=N``: the same with N worker processes (default: the machine's cores).

Two numbers per case: seconds in all (loading the bundle and, for workers, starting
them included), and the steady rate: rows per second from the first finished chunk to
the last, which leaves start-up out. The steady rate's ratio to ``in-process`` is the
per-core comparison (``workers=0`` is one core). Results go to stdout and
bench/results/batch.json.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "examples" / "logreg-20f" / "bundle"
RESULTS = ROOT / "bench" / "results" / "batch.json"


class Clock:
    """Times a run: in total, and from its first finished chunk to its last (steady state)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.marks: list[tuple[float, int]] = []

    def chunk(self, rows_done: int, _total: int | None = None) -> None:
        if rows_done:
            self.marks.append((time.perf_counter(), rows_done))

    def result(self) -> tuple[float, float]:
        """(seconds in all, steady rows per second)."""
        end = time.perf_counter()
        (t0, r0), (t1, r1) = self.marks[0], self.marks[-1]
        return end - self.start, (r1 - r0) / (t1 - t0)


def _in_process(path: Path, chunk_rows: int, write: bool) -> Clock:
    from inferstack.runtime.batch_input import input_files, read_chunks
    from inferstack.runtime.model import load_bundle

    clock = Clock()
    model = load_bundle(BUNDLE)
    names = model.manifest.input.names
    done = 0
    for chunk in read_chunks(input_files(path), names, chunk_rows):
        out = np.asarray(model.run(chunk.frame.to_numpy()))
        if write:
            buffer = io.StringIO()
            csv.writer(buffer).writerows(out.tolist())
        done += len(out)
        clock.chunk(done)
    return clock


def _score(path: Path, chunk_rows: int, workers: int) -> Clock:
    from inferstack.runtime.scoring import score

    out = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    clock = Clock()
    try:
        score(BUNDLE, path, out / "o", workers=workers, chunk_rows=chunk_rows, progress=clock.chunk)
    finally:
        shutil.rmtree(out)
    return clock


def _median(fn: Callable[[], Clock], runs: int) -> tuple[float, float]:
    """Median seconds in all and median steady rows per second over ``runs`` runs."""
    results = [fn().result() for _ in range(runs)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def main() -> None:
    """Run the benchmark and print and save its results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-batch-in-"))
    x = np.random.default_rng(0).normal(size=(args.rows, 20))
    frame = pd.DataFrame(x, columns=[f"f{j}" for j in range(20)])
    files = {"parquet": folder / "in.parquet", "csv": folder / "in.csv"}
    frame.to_parquet(files["parquet"])
    frame.to_csv(files["csv"], index=False)
    results: dict[str, Any] = {
        "rows": args.rows,
        "chunk_rows": args.chunk_rows,
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg()[0],
        "python": platform.python_version(),
        "files": {},
    }
    try:
        for kind, path in files.items():
            cases: dict[str, Callable[[], Clock]] = {
                "in-process": lambda p=path: _in_process(p, args.chunk_rows, write=False),
                "in-process+write": lambda p=path: _in_process(p, args.chunk_rows, write=True),
                "score workers=0": lambda p=path: _score(p, args.chunk_rows, 0),
                f"score workers={args.workers}": lambda p=path: _score(
                    p, args.chunk_rows, args.workers
                ),
            }
            measured = {name: _median(fn, args.runs) for name, fn in cases.items()}
            base = measured["in-process"][1]
            results["files"][kind] = {
                name: {
                    "seconds_in_all": round(total, 2),
                    "steady_rows_per_s": round(rate),
                    "steady_vs_in_process": round(rate / base, 3),
                }
                for name, (total, rate) in measured.items()
            }
            for name, (total, rate) in measured.items():
                print(
                    f"{kind:8s} {name:18s} {total:7.2f} s in all  {rate:10,.0f} rows/s steady"
                    f"  {rate / base:5.2f}x in-process"
                )
    finally:
        shutil.rmtree(folder)
    results["load_average_after"] = os.getloadavg()[0]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
