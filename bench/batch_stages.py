"""Where batch scoring's CPU goes: each stage of ``score`` alone, per chunk.

    .venv/bin/python bench/batch_stages.py [--rows 200000] [--chunk-rows 10000]
        [--repeat 5] [--models quickstart,frame]

bench/batch.py measures ``score`` as a whole against the model in process; this says
what the difference is made of. For each model and input format (the same files and
bundles as bench/batch.py), the CPU time (``time.process_time``: user + system of this
process, best of REPEAT passes over the file's chunks) per chunk of:

- ``read``: ``score``'s reader (``batch_input.read_chunks``); the in-process
  reference reads with the same reader;
- ``decode``: the server's checks on the chunk (``batch_decode.decode_columns``), for
  an all-number schema including stacking the columns into one array, which the
  in-process reference does too (``stack``: that part alone);
- ``run``: ``ServedModel.run`` on the checked batch (preprocess, predict, postprocess);
- ``write csv`` / ``write parquet``: the part file (``batch_output.write_part``);
- ``ledger``: recording the chunk (``Ledger.record``);
- ``csv floor``: what no CSV writer can skip: ``numbers``, formatting the row numbers
  and predictions as the server does (orjson, shortest round-trip floats) and nothing
  else; ``write``, writing the part file's bytes to a file;
- ``in-process``: bench/batch.py's in-process reference, per chunk (read and predict;
  steady, from its first chunk to its last, as bench/batch.py measures it).

Printed with the extra CPU that 80 % of in-process throughput per core allows per
chunk (in-process / 0.8 - in-process).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
from batch import QUICKSTART, _frame_bundle, _frame_data, _in_process  # bench/batch.py

from inferstack.runtime.batch_decode import decode_columns
from inferstack.runtime.batch_input import input_files, read_chunks
from inferstack.runtime.batch_output import Ledger, prediction_lines, write_part
from inferstack.runtime.model import load_bundle
from inferstack.runtime.scoring import takes_columns


def _best(fn: Callable[[], Any], repeat: int) -> float:
    """Fewest CPU seconds of ``repeat`` calls of ``fn``."""
    fn()  # warm: imports, caches
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def stages(bundle: Path, path: Path, chunk_rows: int, repeat: int) -> dict[str, float]:
    """CPU milliseconds per chunk of each stage (see the module's docstring)."""
    model = load_bundle(bundle)
    inp = model.manifest.input
    strings = frozenset(n for n, d in zip(inp.names, inp.dtypes, strict=True) if d == "string")
    files = input_files(path)

    def read() -> list[Any]:
        return [len(c) for c in read_chunks(files, inp.names, chunk_rows, strings)]

    chunks = list(read_chunks(files, inp.names, chunk_rows, strings))
    columnar = takes_columns(model)
    decoded = [decode_columns(model.decoder, c.columns, c.first_row, columnar) for c in chunks]
    flats = [np.asarray(model.run(d.batch)) for d in decoded]
    flats = [f.reshape(len(f), -1) for f in flats]
    names = [f"p{j}" for j in range(flats[0].shape[1])]
    out = Path(tempfile.mkdtemp(prefix="bench-stages-"))
    try:
        ledger = Ledger(out / "job", {"bench": "stages"})

        def write(fmt: Any) -> None:
            for c, d, f in zip(chunks, decoded, flats, strict=True):
                write_part(out / f"part-{c.key}.{fmt}", names, d.rows, f, fmt)

        timed = {
            "read": _best(read, repeat),
            "decode": _best(
                lambda: [
                    decode_columns(model.decoder, c.columns, c.first_row, columnar) for c in chunks
                ],
                repeat,
            ),
            "run": _best(lambda: [model.run(d.batch) for d in decoded], repeat),
            "write csv": _best(lambda: write("csv"), repeat),
            "write parquet": _best(lambda: write("parquet"), repeat),
            "ledger": _best(
                lambda: [
                    ledger.record({"chunk": c.key, "rows": len(c), "rejected": 0}) for c in chunks
                ],
                repeat,
            ),
        }
        bodies = [bytes(prediction_lines(d.rows, f)) for d, f in zip(decoded, flats, strict=True)]

        def numbers_only() -> None:
            for d, f in zip(decoded, flats, strict=True):
                orjson.dumps(d.rows, option=orjson.OPT_SERIALIZE_NUMPY)
                orjson.dumps(np.ascontiguousarray(f).ravel(), option=orjson.OPT_SERIALIZE_NUMPY)

        def bytes_only() -> None:
            for c, body in zip(chunks, bodies, strict=True):
                (out / f"raw-{c.key}").write_bytes(body)

        timed["csv floor: numbers"] = _best(numbers_only, repeat)
        timed["csv floor: write"] = _best(bytes_only, repeat)
        if not strings:
            timed["stack"] = _best(lambda: [np.column_stack(c.columns) for c in chunks], repeat)
    finally:
        shutil.rmtree(out)
    per_chunk = {k: v * 1e3 / len(chunks) for k, v in timed.items()}
    # steady, as bench/batch.py: loading the bundle left out
    rate = max(_in_process(bundle, path, chunk_rows).rates()[1] for _ in range(repeat))
    per_chunk["in-process"] = chunk_rows / rate * 1e3
    return per_chunk


def main() -> None:
    """Print each stage's CPU per chunk for each model and input format."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--models", default="quickstart,frame")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-stages-in-"))
    try:
        x = np.random.default_rng(0).normal(size=(args.rows, 20))
        for model in args.models.split(","):
            if model == "quickstart":
                bundle, frame = QUICKSTART, pd.DataFrame(x, columns=[f"f{j}" for j in range(20)])
            else:
                bundle, frame = _frame_bundle(folder / "frame"), _frame_data(args.rows, 4)
            for kind in ("parquet", "csv"):
                path = folder / f"{model}.{kind}"
                if kind == "parquet":
                    frame.to_parquet(path, row_group_size=args.chunk_rows)
                else:
                    frame.to_csv(path, index=False)
                ms = stages(bundle, path, args.chunk_rows, args.repeat)
                allowed = ms["in-process"] / 0.8 - ms["in-process"]
                cells = "  ".join(f"{k} {v:6.3f}" for k, v in ms.items())
                print(
                    f"{model:10s} {kind:7s} ms/chunk: {cells}  | 80 % allows +{allowed:.3f}",
                    flush=True,
                )
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
