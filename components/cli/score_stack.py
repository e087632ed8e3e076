"""`inferstack score --stack STACK INPUT --out OUTPUT`: the stack's batch job, followed.

The target's batch seam (`components/batch/<target>.py`) starts the job; this module
prints its id and console page, follows it with a progress line on stderr and ends with
the final status (JSON with --json, on stdout). Exit codes: 0 succeeded (or submitted,
with --no-wait), 1 failed or stopped by the platform, 2 a request refused before any
call, 130 Ctrl-C (the job is asked to stop).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from inferstack.components.batch.seam import (
    BatchJobError,
    JobRequest,
    JobStatus,
    TargetBatch,
    batch_for,
    follow,
    open_batch_stack,
)
from inferstack.components.cli.output import (
    EXIT_FAILURE,
    EXIT_USAGE,
    console,
    err_console,
    fail,
)
from inferstack.components.errors import DeployError

EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class StackJob:
    """What `score --stack` was asked to run and how to follow it."""

    stack: str
    input_uri: str
    output_uri: str
    project: Path | None = None
    job_name: str | None = None
    instance_type: str | None = None
    instance_count: int | None = None
    wait: bool = True
    poll_s: float = 30.0
    as_json: bool = False
    progress: bool = True


def run_stack_job(job: StackJob) -> None:
    """Start the job on the stack's cloud; follow it to its end when `job.wait`."""
    request = JobRequest(
        input_uri=job.input_uri,
        output_uri=job.output_uri,
        job_name=job.job_name,
        instance_count=job.instance_count,
        instance_type=job.instance_type,
    )
    try:
        batch = batch_for(open_batch_stack(job.stack, job.project))
        job_id = batch.submit(request)
    except (BatchJobError, DeployError) as err:
        raise fail(str(err), EXIT_USAGE) from err
    err_console.print(f"job {escape(job_id)} started on {batch.target}", highlight=False)
    follow_stops = False  # follow() asks the platform to stop the job on Ctrl-C itself
    try:
        first = batch.status(job_id)
        if first.console_url:
            err_console.print(f"console: {first.console_url}", highlight=False, soft_wrap=True)
        final = first
        if job.wait:
            follow_stops = True
            final = _follow(batch, job_id, job, first)
    except KeyboardInterrupt as err:
        if not follow_stops:
            batch.stop(job_id)
        err_console.print(
            f"interrupted: asked {batch.target} to stop job {escape(job_id)}", highlight=False
        )
        raise typer.Exit(EXIT_INTERRUPTED) from err
    except DeployError as err:
        raise fail(str(err)) from err
    _finish(final, job.as_json)


def _follow(batch: TargetBatch, job_id: str, job: StackJob, first: JobStatus) -> JobStatus:
    """Poll the job until it ends, with a progress line on stderr."""
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=not job.progress,
    )
    task = bar.add_task(first.message or first.state, total=first.total)

    def show(status: JobStatus) -> None:
        bar.update(task, description=status.message or status.state, total=status.total)
        if status.done is not None:
            bar.update(task, completed=status.done)

    with bar:
        return follow(batch, job_id, poll_s=job.poll_s, on_status=show)


def _finish(status: JobStatus, as_json: bool) -> None:
    if as_json:
        print(json.dumps(status.as_json(), indent=2))
    elif status.state == "succeeded":
        console.print(
            f"[green]succeeded[/]: job {escape(status.job_id)} -> {escape(status.output_uri)}",
            soft_wrap=True,
        )
    elif not status.final:
        console.print(f"job {escape(status.job_id)} is {status.state}", soft_wrap=True)
    if status.state in {"failed", "stopped"}:
        raise fail(f"job {status.job_id} {status.state}: {status.message}", EXIT_FAILURE)
