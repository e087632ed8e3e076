"""The `inferstack` typer app and the table of its command groups.

Each group is a module with `register(app)`; commands import what they need when they
run, so `inferstack serve` works in the runtime image (no Pulumi) and `inferstack plan`
works without the runtime. A group whose module cannot be imported because an extra is
missing still shows its commands, and each says which extra to install.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import typer

from inferstack.components.cli.output import EXIT_USAGE, fail

app = typer.Typer(
    name="inferstack",
    help="Deploy a trained model to SageMaker, Azure ML, GKE or local Docker from one spec.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@dataclass(frozen=True)
class CommandGroup:
    """A module of commands, the names it adds and the extra its import needs."""

    module: str
    commands: tuple[str, ...]
    extra: str


COMMAND_GROUPS = (
    CommandGroup("inferstack.components.cli.plan", ("plan",), "local"),
    CommandGroup("inferstack.components.cli.cost", ("cost",), "local"),
    CommandGroup("inferstack.components.cli.stacks", ("stacks",), "local"),
    CommandGroup("inferstack.components.cli.spec", ("spec",), "local"),
    CommandGroup("inferstack.components.cli.doctor", ("doctor", "outputs"), "local"),
    CommandGroup("inferstack.components.cli.build", ("build",), "runtime"),
    CommandGroup("inferstack.components.cli.runtime", ("serve", "bundle", "compose"), "runtime"),
    CommandGroup("inferstack.components.cli.score", ("score",), "batch"),
    CommandGroup(
        "inferstack.components.cli.lifecycle", ("versions", "promote", "rollback"), "lifecycle"
    ),
    CommandGroup("inferstack.components.cli.abreport", ("ab-report",), "lifecycle"),
    CommandGroup("inferstack.components.cli.publish", ("publish",), "publish"),
    CommandGroup("inferstack.components.cli.drift_report", ("drift-report",), "monitoring"),
)


def _unavailable(app: typer.Typer, command: str, package: str, extra: str) -> None:
    """Register `command` as one that says which extra to install."""

    def refuse(ctx: typer.Context) -> None:
        raise fail(
            f"`inferstack {command}` needs the package {package!r}: "
            f"pip install 'inferstack[{extra}]'",
            EXIT_USAGE,
        )

    app.command(
        command,
        help=f"(unavailable here: pip install 'inferstack[{extra}]')",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(refuse)


def register_groups(app: typer.Typer, groups: tuple[CommandGroup, ...]) -> None:
    """Add each group's commands to `app`; a group whose extra is missing still shows its
    commands, and each says which extra to install."""
    for group in groups:
        try:
            module = importlib.import_module(group.module)
        except ModuleNotFoundError as err:
            if not err.name or err.name.startswith("inferstack"):
                raise
            for command in group.commands:
                _unavailable(app, command, err.name, group.extra)
            continue
        module.register(app)


register_groups(app, COMMAND_GROUPS)


def main() -> None:
    """Entry point of the `inferstack` console script."""
    app()


if __name__ == "__main__":
    main()
