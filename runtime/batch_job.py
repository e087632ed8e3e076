"""``python -m inferstack.runtime.batch_job INPUT OUTPUT``: batch scoring inside a container.

The command a Kubernetes Job (the GKE target's batch job) runs in the runtime image:
each input file of INPUT (a file or a folder) is scored with ``runtime.scoring.score``
into its own folder under OUTPUT (``output_folder``), so the output has the same part,
rejects and ``_SUCCESS`` files as ``inferstack score``. With ``--shards N`` the pod of
completion index I (``JOB_COMPLETION_INDEX``, set by an Indexed Job) scores the files
whose position in name order is I modulo N. A retried pod (a preempted spot node)
resumes each file from its finished chunks.

Exit codes: 0 done, 2 bad arguments or input (retrying cannot help), 1 anything else.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

from inferstack.runtime.batch_input import input_files
from inferstack.runtime.errors import BundleError, ConfigError, InvalidInput
from inferstack.runtime.scoring import score
from inferstack.runtime.settings import RuntimeSettings

INDEX_ENV = "JOB_COMPLETION_INDEX"
USAGE_EXIT = 2


def output_folder(root: Path, input_path: str) -> Path:
    """The output folder of one input file: its name and a hash of its full path (two
    inputs of the same name in different folders stay apart)."""
    tag = hashlib.sha256(input_path.encode()).hexdigest()[:8]
    return root / f"{Path(input_path).stem}-{tag}"


def shard_of(paths: list[Path], index: int, shards: int) -> list[Path]:
    """The files shard `index` of `shards` scores: every shards-th from position index."""
    if not 0 <= index < shards:
        raise ConfigError(f"shard index {index} is outside 0..{shards - 1}")
    return paths[index::shards]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m inferstack.runtime.batch_job")
    parser.add_argument("input", help="a CSV or Parquet file, or a folder of them")
    parser.add_argument("output", help="the output folder")
    parser.add_argument("--shards", type=int, default=1, help="pods the files are split over")
    parser.add_argument("--workers", type=int, default=None, help="processes [default: cores]")
    parser.add_argument("--chunk-rows", type=int, default=10_000)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Score this shard's files; the exit code tells the Job whether to retry."""
    args = _parser().parse_args(argv)
    try:
        settings = RuntimeSettings()  # a bad setting is a configuration error too
        if args.shards < 1:
            raise ConfigError(f"--shards must be at least 1, got {args.shards}")
        index = int(os.environ.get(INDEX_ENV, "0"))
        files = shard_of([f.path for f in input_files(args.input)], index, args.shards)
        out = Path(args.output)
        for path in files:
            result = score(
                settings.bundle_dir,
                path,
                output_folder(out, str(path)),
                workers=args.workers,
                chunk_rows=args.chunk_rows,
                allow_pickle=settings.allow_pickle,
            )
            print(f"{path.name}: {result.rows} rows, {result.rejected} rejected", flush=True)
    except (InvalidInput, ConfigError, BundleError, ValueError) as err:
        # ValueError: pydantic's ValidationError of a bad setting is one
        print(f"inferstack batch_job: {err}", file=sys.stderr)
        return USAGE_EXIT
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
