"""`inferstack stacks`: every stack of the project side by side, with its monthly cost.

The README's environments table is this command's Markdown output (a test keeps the two
in step), so the differences between dev, staging and prod are read from the stack files
rather than described by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inferstack.components.cli.output import EXIT_USAGE, fail
from inferstack.components.errors import DeployError

COLUMNS = (
    "stack",
    "target",
    "env",
    "instances",
    "replicas",
    "spot",
    "auth",
    "alarms to",
    "rollout",
    "logs (days)",
    "monthly cost (USD)",
)


def stack_row(root: Path, stack: str) -> tuple[str, ...]:
    """One stack's cells, in the order of `COLUMNS`."""
    from inferstack.components.cli.cost import stack_cost
    from inferstack.components.errors import CONFIG_KEY
    from inferstack.components.spec.config import load_spec, read_stack_config
    from inferstack.components.targets import get_target

    spec = load_spec(read_stack_config(root, stack).get(CONFIG_KEY), f"Pulumi.{stack}.yaml")
    cost = stack_cost(stack, root)
    compute, scaling, rollout = spec.compute, spec.scaling, spec.rollout
    spot = f"yes, {compute.on_demand_base} on demand" if compute.spot else "no"
    strategy = rollout.strategy.replace("_", " ")
    target = get_target(spec.target)
    if (
        rollout.strategy != "all_at_once"
        and rollout.auto_rollback
        and target.profile.rollback_on_alarms
    ):
        strategy += ", auto rollback"
    price = (
        f"{cost.monthly_min:,.0f}"
        if cost.monthly_min == cost.monthly_max
        else f"{cost.monthly_min:,.0f} to {cost.monthly_max:,.0f}"
    )
    if cost.unpriced:
        price += " (some items not priced)"
    return (
        f"`{stack}`",
        spec.target,
        spec.environment,
        f"`{target.instance_type_for(spec)}`",
        f"{scaling.min_replicas}-{scaling.max_replicas}",
        spot,
        spec.gateway.auth,
        ", ".join(spec.observability.notify_emails) or "nobody",
        strategy,
        str(spec.observability.log_retention_days),
        price,
    )


def stacks_table(root: Path) -> str:
    """Every stack of the project as a Markdown table."""
    from inferstack.components.spec.config import stack_names

    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(stack_row(root, stack)) + " |" for stack in stack_names(root)),
    ]
    return "\n".join(lines) + "\n"


def stacks(
    project: Annotated[
        Path | None, typer.Option(help="Project folder (default: nearest with Pulumi.yaml).")
    ] = None,
) -> None:
    """List every stack with its size, auth, alarms, rollout and monthly cost (Markdown)."""
    from inferstack.components.spec.config import find_project_root

    try:
        print(stacks_table(project or find_project_root()), end="")
    except DeployError as err:
        raise fail(str(err), EXIT_USAGE) from None


def register(app: typer.Typer) -> None:
    """Add `stacks` to the CLI."""
    app.command()(stacks)
