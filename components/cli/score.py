"""`inferstack score BUNDLE INPUT --out OUTPUT`: batch scoring of CSV or Parquet files.

The job runs here, across the machine's cores (see ``inferstack.runtime.scoring``);
a re-run with the same arguments resumes it, skipping the chunks already finished.
With `--stack STACK INPUT --out OUTPUT` the stack's own model scores INPUT on the
stack's cloud instead (`cli/score_stack.py`, `components/batch/`).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import typer

from inferstack.components.cli.output import EXIT_FAILURE, EXIT_USAGE, console, fail


class PartFormatChoice(StrEnum):
    """The part files' format (`--part-format`)."""

    csv = "csv"
    parquet = "parquet"


def register(app: typer.Typer) -> None:
    """Add ``score`` to a typer app."""
    app.command("score")(score_cmd)


def score_cmd(
    bundle_dir: Annotated[
        str,
        typer.Argument(
            help="Bundle folder (holds inferstack.yaml); with --stack: the input instead.",
            metavar="BUNDLE",
            show_default=False,
        ),
    ],
    source: Annotated[
        str | None,
        typer.Argument(
            help="A .csv (with a header row) or .parquet file, or a folder; with --stack: "
            "a local .csv (or folder) or an s3:// URI in the stack's batch prefix.",
            metavar="INPUT",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        str,
        typer.Option(
            help="Output folder: part files, rejects, the job's ledger; with --stack: "
            "the cloud URI results go to.",
            show_default=False,
        ),
    ] = "",
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
    part_format: Annotated[
        PartFormatChoice,
        typer.Option(
            "--part-format",
            help="Part files: csv (numbers as the server writes them) or parquet (much "
            "cheaper to write when the model is cheap).",
        ),
    ] = PartFormatChoice.csv,
    stack: Annotated[
        str | None,
        typer.Option(help="Run the job on this stack's cloud with its deployed model."),
    ] = None,
    project: Annotated[
        Path | None, typer.Option(help="Project folder (default: nearest with Pulumi.yaml).")
    ] = None,
    wait: Annotated[bool, typer.Option(help="With --stack: follow the job until it ends.")] = True,
    poll: Annotated[
        float, typer.Option(min=0.1, help="With --stack: seconds between status checks.")
    ] = 30.0,
    job_name: Annotated[
        str | None, typer.Option(help="With --stack: the job's name (default: <endpoint>-<time>).")
    ] = None,
    instance_type: Annotated[
        str | None, typer.Option(help="With --stack: machine type (default: the stack's).")
    ] = None,
    instance_count: Annotated[
        int | None, typer.Option(min=1, help="With --stack: machines (default: 1).")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="With --stack: print the final status as JSON.")
    ] = False,
) -> None:
    """Score every row of INPUT with the bundle; resumable, rejects kept with their reason.

    With --stack: the stack's deployed model scores INPUT as the cloud's batch job.
    """
    if not out:
        raise fail("--out is required", EXIT_USAGE)
    if stack is not None:
        from inferstack.components.cli.score_stack import StackJob, run_stack_job

        if source is not None:
            raise fail(
                "with --stack give INPUT only (the stack's deployed model scores it): "
                f"inferstack score --stack {stack} INPUT --out OUTPUT",
                EXIT_USAGE,
            )
        run_stack_job(
            StackJob(
                stack=stack,
                input_uri=bundle_dir,
                output_uri=out,
                project=project,
                job_name=job_name,
                instance_type=instance_type,
                instance_count=instance_count,
                wait=wait,
                poll_s=poll,
                as_json=as_json,
                progress=progress,
            )
        )
        return
    if source is None:
        raise fail("missing INPUT: inferstack score BUNDLE INPUT --out OUTPUT", EXIT_USAGE)
    _score_here(
        Path(bundle_dir),
        Path(source),
        Path(out),
        workers,
        chunk_rows,
        allow_pickle,
        progress,
        part_format.value,
    )


def _score_here(
    bundle_dir: Path,
    source: Path,
    out: Path,
    workers: int | None,
    chunk_rows: int,
    allow_pickle: bool,
    progress: bool,
    part_format: Literal["csv", "parquet"],
) -> None:
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
                part_format=part_format,
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
