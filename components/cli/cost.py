"""`inferstack cost STACK`: the monthly cost of what a stack declares, before it exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inferstack.components.cli.output import EXIT_USAGE, console, fail
from inferstack.components.errors import DeployError

if TYPE_CHECKING:
    from inferstack.components.cost.estimate import CostEstimate


def stack_cost(stack: str, project: Path | None = None) -> CostEstimate:
    """The estimate of stack `stack` of the project at `project` (default: the nearest)."""
    from inferstack.components.cost.estimate import estimate_cost
    from inferstack.components.errors import CONFIG_KEY
    from inferstack.components.spec.config import find_project_root, load_spec, read_stack_config

    root = project or find_project_root()
    config = read_stack_config(root, stack)
    return estimate_cost(load_spec(config.get(CONFIG_KEY), f"stacks/Pulumi.{stack}.yaml"))


def print_cost(estimate: CostEstimate) -> None:
    """The estimate as a table, its totals, its notes and the price table's date."""
    table = Table(title=f"Monthly cost estimate ({estimate.currency})", title_justify="left")
    for column in ("item", "count", "per hour", "at min", "at max"):
        table.add_column(column, justify="left" if column == "item" else "right")
    for line in estimate.lines:
        count = (
            str(line.count_min)
            if line.count_min == line.count_max
            else f"{line.count_min}-{line.count_max}"
        )
        per_hour = "monthly" if line.monthly_fixed else _amount(line.hourly, digits=4)
        table.add_row(
            escape(line.item), count, per_hour, _amount(line.monthly_min), _amount(line.monthly_max)
        )
    table.add_row("total", "", "", _amount(estimate.monthly_min), _amount(estimate.monthly_max))
    console.print(table)
    console.print(escape(estimate.summary()), highlight=False)
    for note in estimate.notes:
        console.print(f"  note: {escape(note)}", highlight=False)


def _amount(value: float | None, digits: int = 2) -> str:
    return "not priced" if value is None else f"{value:,.{digits}f}"


def cost(
    stack: Annotated[str, typer.Argument(help="Stack name, e.g. prod-aws.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the estimate as JSON.")] = False,
    project: Annotated[
        Path | None, typer.Option(help="Project folder (default: nearest with Pulumi.yaml).")
    ] = None,
) -> None:
    """Estimate the monthly cost of a stack from the shipped price table (no cloud call)."""
    try:
        estimate = stack_cost(stack, project)
    except DeployError as err:
        raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        print(json.dumps(estimate.as_json(), indent=2))
    else:
        print_cost(estimate)


def register(app: typer.Typer) -> None:
    """Add `cost` to the CLI."""
    app.command()(cost)
