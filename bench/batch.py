"""Batch scoring throughput: `inferstack score` against the model in process, one command.

    .venv/bin/python bench/batch.py [--rows 200000] [--runs 3] [--worker-runs 1]
        [--chunk-rows 10000] [--workers 2] [--pin CPU] [--models quickstart,frame]

Two models: the quickstart bundle (examples/logreg-20f/bundle, 20 float features, a
logistic regression served by the runtime's numpy fast path) and ``frame``, a
scikit-learn pipeline fitted here on a DataFrame (a one-hot ``city`` string column,
two scaled numbers) and bundled through the Python API. For each, ROWS rows are
written to a Parquet file (row groups of CHUNK_ROWS rows: a reader decodes a whole
row group at once, so with bigger groups the reading would land before the first
chunk is done, outside the steady window below) and a CSV file, and each case
below runs RUNS times:

- ``in-process``: load the bundle, read the file in the same chunks with the same
  reader ``score`` uses (pyarrow for Parquet on one thread, pandas' C parser for CSV
  with the same options) and predict
  (the quickstart: the fast path on the numpy batch; ``frame``: the pipeline's
  ``predict_proba`` on the chunk as a DataFrame). No checks, nothing written.
- ``score w=0 csv|parquet``: ``inferstack.runtime.scoring.score`` in this process
  (the server's input checks, rejects, part files as CSV or Parquet, the ledger).
- ``score w=N csv|parquet``: the same with N worker processes (WORKER_RUNS runs:
  each start of a worker imports scikit-learn and loads the bundle, seconds of CPU;
  ``--worker-runs 0`` leaves these cases out).

Per case, the median over runs of: rows per wall second, and rows per CPU second
(user + system time of this process and, for workers, of its worker processes, from
their CPU-time clocks). Both are "steady": from the first finished chunk to the last
(with workers, from the middle chunk), which leaves loading the bundle and starting
workers out. With workers the window is approximate both ways: on a loaded machine
one worker can score half the chunks of a cheap model while another still starts
(imports scikit-learn: seconds of CPU), which then counts (too low); and the parent
reads up to 2N chunks ahead, so some reading falls before the window (too high,
mostly for CSV, whose reading costs most). Take w=N steady ratios as indicative.
"In all" is rows per CPU second over the whole run (loading the
bundle, starting the workers; os.times() with the exited workers' times), the
number that says what a job of ROWS rows costs. Rows per CPU second is the
per-core number: it does not move when other jobs share the cores, where wall time
does. ``--pin CPU`` runs the one-core cases (in-process and w=0) on that CPU only.
The ratio to ``in-process`` is printed and saved (bench/results/batch.json), with
the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "examples" / "logreg-20f" / "bundle"
RESULTS = ROOT / "bench" / "results" / "batch.json"


def _cpu_seconds() -> float:
    """User + system seconds of this process and its live worker processes.

    Nanosecond clocks: a worker's is Linux's CPU-time clock of another process
    (clock id ``(~pid << 3) | 2``, what ``clock_getcpuclockid`` returns); /proc's
    10 ms ticks are too coarse for a window of a fraction of a second.
    """
    total = time.process_time()
    for child in multiprocessing.active_children():
        if child.pid is None:
            continue
        try:
            total += time.clock_gettime((~child.pid << 3) | 2)
        except OSError:  # the worker has just ended
            continue
    return total


class Clock:
    """Marks (wall, CPU, rows) after each chunk; the steady rates are first to last mark."""

    def __init__(self, workers: int = 0) -> None:
        self.marks: list[tuple[float, float, int]] = []
        self.workers = workers
        self.started = _all_cpu()
        self.ended = self.started

    def end(self) -> Clock:
        """Mark the end of the run (for workers: after they have exited)."""
        self.ended = _all_cpu()
        return self

    def chunk(self, rows_done: int, _total: int | None = None) -> None:
        if rows_done:
            self.marks.append((time.perf_counter(), _cpu_seconds(), rows_done))

    def rates(self) -> tuple[float, float]:
        """(rows per wall second, rows per CPU second)."""
        # with workers, the second half only: one worker can score many chunks while
        # another still imports scikit-learn (seconds of CPU that are no chunk's)
        first = len(self.marks) // 2 if self.workers else 0
        (w0, c0, r0), (w1, c1, r1) = self.marks[first], self.marks[-1]
        return (r1 - r0) / (w1 - w0), (r1 - r0) / max(c1 - c0, 1e-9)

    def in_all(self) -> float:
        """Rows per CPU second over the whole run: loading, starting workers, everything."""
        return self.marks[-1][2] / max(self.ended - self.started, 1e-9)


def _all_cpu() -> float:
    """CPU seconds of this process and of its children that have exited."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def _frame_data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": np.round(rng.normal(50.0, 12.0, n), 3),
            "city": rng.choice(["oslo", "paris", "rome", "san jose, ca"], n),
        }
    )


def _frame_bundle(out: Path) -> Path:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from inferstack.runtime import bundle

    df = _frame_data(2_000, 3)
    y = ((df["income"] > 50) ^ (df["city"] == "rome")).to_numpy().astype(int)
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("num", StandardScaler(), ["age", "income"]),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(df, y)
    bundle(model, framework="sklearn", name="frame", version="1.0.0", out=out)
    return out


def _chunks(path: Path, names: list[str], strings: list[str], rows: int) -> Iterator[Any]:
    """The file's chunks as pyarrow record batches (Parquet) or DataFrames (CSV)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        # as score reads: one thread
        yield from pq.ParquetFile(path).iter_batches(
            batch_size=rows, columns=names, use_threads=False
        )
    else:
        text = {n: str for n in strings}
        with pd.read_csv(path, chunksize=rows, dtype=text, keep_default_na=False) as reader:
            yield from reader


def _in_process(bundle: Path, path: Path, chunk_rows: int) -> Clock:
    from inferstack.runtime.model import load_bundle

    clock = Clock()
    model = load_bundle(bundle)
    names = model.manifest.input.names
    strings = [n for n, d in zip(names, model.manifest.input.dtypes, strict=True) if d == "string"]
    done = 0
    for chunk in _chunks(path, names, strings, chunk_rows):
        if strings:  # a DataFrame model: the chunk as a DataFrame, the pipeline itself
            frame = chunk if isinstance(chunk, pd.DataFrame) else chunk.to_pandas()
            out = model.predictor.model.predict_proba(frame[names])
        else:  # numbers: one array, the fast path the server takes
            cols = chunk.columns if not isinstance(chunk, pd.DataFrame) else None
            batch = (
                np.column_stack([c.to_numpy() for c in cols])
                if cols is not None
                else chunk[names].to_numpy()
            )
            out = model.run(batch)
        done += len(out)
        clock.chunk(done)
    return clock.end()


def _score(bundle: Path, path: Path, chunk_rows: int, workers: int, fmt: str) -> Clock:
    from inferstack.runtime.scoring import score

    out = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    clock = Clock(workers)
    try:
        score(
            bundle,
            path,
            out / "o",
            workers=workers,
            chunk_rows=chunk_rows,
            progress=clock.chunk,
            part_format=fmt,  # type: ignore[arg-type]
        )
    finally:
        shutil.rmtree(out)
    return clock.end()


def _cases(
    bundle: Path, path: Path, args: argparse.Namespace
) -> dict[str, tuple[Callable[[], Clock], bool]]:
    """Each case's run and whether it is a one-core case (pinned with --pin)."""
    c, n = args.chunk_rows, args.workers
    return {
        "in-process": (lambda: _in_process(bundle, path, c), True),
        "score w=0 csv": (lambda: _score(bundle, path, c, 0, "csv"), True),
        "score w=0 parquet": (lambda: _score(bundle, path, c, 0, "parquet"), True),
        f"score w={n} csv": (lambda: _score(bundle, path, c, n, "csv"), False),
        f"score w={n} parquet": (lambda: _score(bundle, path, c, n, "parquet"), False),
    }


def _measure(fn: Callable[[], Clock], runs: int, pin: int | None) -> tuple[float, float, float]:
    """Medians of steady rows per wall second, per CPU second, and per CPU second in all."""
    everywhere = os.sched_getaffinity(0)
    if pin is not None:
        os.sched_setaffinity(0, {pin})
    try:
        clocks = [fn() for _ in range(runs)]
    finally:
        os.sched_setaffinity(0, everywhere)
    rates = [c.rates() for c in clocks]
    return (
        statistics.median(r[0] for r in rates),
        statistics.median(r[1] for r in rates),
        statistics.median(c.in_all() for c in clocks),
    )


def main() -> None:
    """Run the benchmark and print and save its results."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker-runs", type=int, default=1)
    parser.add_argument("--models", default="quickstart,frame")
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--pin", type=int, default=None, help="CPU for the one-core cases")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-batch-in-"))
    results: dict[str, Any] = {
        "rows": args.rows,
        "chunk_rows": args.chunk_rows,
        "runs": args.runs,
        "worker_runs": args.worker_runs,
        "workers": args.workers,
        "pin": args.pin,
        "cpus": os.cpu_count(),
        "load_average_before": list(os.getloadavg()),
        "python": platform.python_version(),
        "models": {},
    }
    try:
        x = np.random.default_rng(0).normal(size=(args.rows, 20))
        names = [f"f{j}" for j in range(20)]
        data: dict[str, Callable[[], tuple[Path, pd.DataFrame]]] = {
            "quickstart": lambda: (QUICKSTART, pd.DataFrame(x, columns=names)),
            "frame": lambda: (_frame_bundle(folder / "frame"), _frame_data(args.rows, 4)),
        }
        for model in args.models.split(","):
            bundle, frame = data[model]()
            results["models"][model] = {}
            for kind in ("parquet", "csv"):
                path = folder / f"{model}.{kind}"
                if kind == "parquet":  # one chunk per row group: see the docstring
                    frame.to_parquet(path, row_group_size=args.chunk_rows)
                else:
                    frame.to_csv(path, index=False)
                _in_process(bundle, path, args.chunk_rows)  # imports done before any case
                measured = {
                    name: _measure(
                        fn,
                        args.runs if one_core else args.worker_runs,
                        args.pin if one_core else None,
                    )
                    for name, (fn, one_core) in _cases(bundle, path, args).items()
                    if one_core or args.worker_runs > 0  # --worker-runs 0: one core only
                }
                base_wall, base_cpu, base_all = measured["in-process"]
                results["models"][model][kind] = {
                    name: {
                        "rows_per_wall_s": round(wall),
                        "rows_per_cpu_s": round(cpu),
                        "cpu_vs_in_process": round(cpu / base_cpu, 3),
                        "wall_vs_in_process": round(wall / base_wall, 3),
                        "rows_per_cpu_s_in_all": round(every),
                        "in_all_cpu_vs_in_process": round(every / base_all, 3),
                    }
                    for name, (wall, cpu, every) in measured.items()
                }
                for name, (wall, cpu, every) in measured.items():
                    print(
                        f"{model:10s} {kind:7s} {name:18s} {wall:10,.0f} rows/s wall"
                        f" {cpu:10,.0f} rows/CPU-s  {cpu / base_cpu:5.2f}x per core"
                        f" | in all {every:9,.0f} rows/CPU-s {every / base_all:5.2f}x",
                        flush=True,
                    )
    finally:
        shutil.rmtree(folder)
    results["load_average_after"] = list(os.getloadavg())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"load average before {results['load_average_before']}", file=sys.stderr)
    print(f"load average after  {results['load_average_after']}", file=sys.stderr)
    print(f"results: {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
