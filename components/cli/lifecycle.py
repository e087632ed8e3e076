"""`inferstack versions`, `promote` and `rollback`: a stack's model versions and traffic.

Results go to stdout (a table, or JSON with --json); progress goes to stderr, so
`--json` output stays parseable. Exit codes: 0 done, 1 rolled back by an alarm or
failed, 2 a spec, bundle or schema the user must change, 130 interrupted (Ctrl-C; the
message says what serves and that the stack config matches it).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from inferstack.components.cli.output import EXIT_FAILURE, EXIT_USAGE, console, err_console, fail
from inferstack.components.errors import DeployError

if TYPE_CHECKING:
    from inferstack.components.lifecycle.rollout import Event, Result
    from inferstack.components.lifecycle.stacks import Stack

EXIT_INTERRUPTED = 130

StackArg = Annotated[str, typer.Argument(help="Stack name, e.g. prod-aws or local.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
ProjectOpt = Annotated[
    Path | None, typer.Option(help="Project folder (default: nearest with Pulumi.yaml).")
]


def open_or_fail(stack: str, project: Path | None) -> Stack:
    """The stack, or an error naming what is missing (an extra, a file, a target)."""
    from inferstack.components.lifecycle.stacks import open_stack

    try:
        return open_stack(stack, project)
    except ModuleNotFoundError as err:
        raise fail(
            f"this command needs {err.name!r}: pip install 'inferstack[lifecycle]'", EXIT_USAGE
        ) from err
    except DeployError as err:
        raise fail(str(err), EXIT_USAGE) from err


def versions(stack: StackArg, as_json: JsonOpt = False, project: ProjectOpt = None) -> None:
    """List the deployed and registered model versions and the traffic each one takes."""
    opened = open_or_fail(stack, project)
    try:
        found = opened.lifecycle.versions()
    except DeployError as err:
        raise fail(str(err)) from err
    if as_json:
        print(json.dumps([v.as_json() for v in found], indent=2))
        return
    table = Table(title=f"Model versions of stack {escape(stack)} ({opened.spec.target})")
    for column in ("version", "state", "traffic", "variant", "source", "detail"):
        table.add_column(column)
    for v in found:
        table.add_row(
            v.version,
            v.state,
            f"{v.share:.0%}",
            v.variant or "",
            escape(v.source),
            escape(v.detail),
        )
    console.print(table)


def _progress_reporter(progress: Progress) -> Callable[[Event], None]:
    tasks: dict[str, TaskID] = {}

    def report(event: Event) -> None:
        if event.kind == "step":
            if "steps" not in tasks:
                tasks["steps"] = progress.add_task("traffic shifted", total=event.steps)
            progress.update(
                tasks["steps"],
                completed=event.step,
                description=f"step {event.step}/{event.steps}: {event.percent:g}% to the new one",
            )
            bake = tasks.pop("bake", None)
            if bake is not None:
                progress.remove_task(bake)
        elif event.kind == "bake":
            if "bake" not in tasks:
                tasks["bake"] = progress.add_task("baking, watching alarms", total=event.bake_s)
            progress.update(tasks["bake"], completed=event.baked_s)
        elif event.kind == "alarm":
            progress.console.print(f"[red]alarm[/] {escape(event.message)}: rolling back")
        elif event.kind == "restore":
            progress.console.print("[yellow]interrupted[/]: returning traffic to where it was")

    return report


def _finish(result: Result, as_json: bool) -> None:
    if as_json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        colour = {"promoted": "green", "rolled_back": "yellow", "interrupted": "yellow"}
        style = colour.get(result.outcome, "cyan")
        console.print(f"[{style}]{result.outcome}[/]: {escape(result.message)}", soft_wrap=True)
        if result.needs_pulumi_up:
            console.print("next: run `pulumi up` for the change to serve", soft_wrap=True)
    if result.outcome == "interrupted":
        raise typer.Exit(EXIT_INTERRUPTED)
    if result.outcome == "rolled_back" and result.alarms:
        raise typer.Exit(EXIT_FAILURE)


def _run(action: Callable[[Callable[[Event], None]], Result], as_json: bool) -> None:
    from inferstack.components.lifecycle.schema import SchemaMismatchError

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f}"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )
    try:
        with progress:
            result = action(_progress_reporter(progress))
    except SchemaMismatchError as err:
        raise fail(str(err), EXIT_USAGE) from err
    except DeployError as err:
        raise fail(str(err)) from err
    _finish(result, as_json)


def promote(
    stack: StackArg,
    version: Annotated[str, typer.Argument(help="The model version to shift traffic to.")],
    bundle: Annotated[
        Path | None,
        typer.Option(help="The new version's bundle (default: its variant's artifact)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if the input schema differs.")
    ] = False,
    steps: Annotated[
        str | None,
        typer.Option(help="Traffic percents per step, e.g. 10,50,100 (default: the spec's)."),
    ] = None,
    stage: Annotated[
        bool,
        typer.Option(
            "--stage",
            help="If VERSION is not deployed: add it (--bundle) as a weight-0 variant to the "
            "stack config, for `pulumi up`.",
        ),
    ] = False,
    poll_s: Annotated[float, typer.Option(help="Seconds between alarm checks.", min=0.01)] = 15.0,
    as_json: JsonOpt = False,
    project: ProjectOpt = None,
) -> None:
    """Shift traffic to VERSION step by step, watching the rollback alarms; roll back when
    one fires. The stack config is rewritten to match what serves."""
    from inferstack.components.lifecycle import rollout

    try:
        percents = rollout.check_steps([float(s) for s in steps.split(",")]) if steps else None
    except ValueError:
        raise fail(f"--steps {steps!r}: expected numbers separated by commas", EXIT_USAGE) from None
    except DeployError as err:
        raise fail(str(err), EXIT_USAGE) from None
    opened = open_or_fail(stack, project)
    _run(
        lambda report: rollout.promote(
            opened,
            version,
            bundle=bundle,
            force=force,
            steps=percents,
            stage=stage,
            poll_s=poll_s,
            report=report,
        ),
        as_json,
    )


def rollback(
    stack: StackArg,
    to: Annotated[
        str | None, typer.Option(help="Version to return to (default: the one before).")
    ] = None,
    bundle: Annotated[
        Path | None, typer.Option(help="That version's bundle (targets that build images).")
    ] = None,
    as_json: JsonOpt = False,
    project: ProjectOpt = None,
) -> None:
    """Return to the previous version: on SageMaker by weights alone (no `pulumi up`), and
    the stack config rewritten so the next `pulumi up` agrees."""
    from inferstack.components.lifecycle import rollout

    opened = open_or_fail(stack, project)
    _run(lambda report: rollout.rollback(opened, to, bundle=bundle, report=report), as_json)


def register(app: typer.Typer) -> None:
    """Add `versions`, `promote` and `rollback` to the CLI."""
    app.command()(versions)
    app.command()(promote)
    app.command()(rollback)
