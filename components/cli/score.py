"""`inferstack score BUNDLE INPUT --out OUTPUT`: batch scoring of CSV or Parquet files.

The job runs here, across the machine's cores (see ``inferstack.runtime.scoring``);
a re-run with the same arguments resumes it, skipping the chunks already finished.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inferstack.components.cli.output import EXIT_FAILURE, EXIT_USAGE, console, fail


def register(app: typer.Typer) -> None:
    """Add ``score`` to a typer app."""
    app.command("score")(score_cmd)


def score_cmd(
    bundle_dir: Annotated[Path, typer.Argument(help="Bundle folder (holds inferstack.yaml).")],
    source: Annotated[
        Path, typer.Argument(help="A .csv (with a header row) or .parquet file, or a folder.")
    ],
    out: Annotated[
        Path, typer.Option(help="Output folder: part files, rejects, the job's ledger.")
    ],
    workers: Annotated[
        int | None,
        typer.Option(min=0, help="Worker processes; 0 scores in this process [default: cores]."),
    ] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per chunk.")] = 10_000,
    allow_pickle: Annotated[
        bool,
        typer.Option(
            "--allow-pickle", help="Load a pickle-based artifact the bundle did not opt in to."
        ),
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Score every row of INPUT with the bundle; resumable, rejects kept with their reason."""
    from inferstack.runtime.errors import InferstackError

    try:
        from inferstack.runtime.scoring import score
    except ModuleNotFoundError as err:
        raise fail(
            f"`inferstack score` needs the package {err.name!r}: pip install 'inferstack[batch]'",
            EXIT_USAGE,
        ) from err
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
    )
    task = bar.add_task("rows", total=None)
    try:
        with bar:
            result = score(
                bundle_dir,
                source,
                out,
                workers=workers,
                chunk_rows=chunk_rows,
                allow_pickle=allow_pickle,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
    except InferstackError as err:
        code = EXIT_USAGE if err.status_code < 500 else EXIT_FAILURE
        raise fail(err.message, code) from err
    console.print(
        f"{result.rows} rows scored, {result.rejected} rejected, in {result.chunks} chunks "
        f"({result.scored_now} rows this run) -> {result.out}",
        highlight=False,
    )
