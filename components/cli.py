"""The `inferstack` command line.

Commands import what they need when they run, so `inferstack serve` works in
the runtime image (no Pulumi) and `inferstack plan` works without the runtime.
Target and runtime packages add their own commands through `register(app)`.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.tree import Tree

from inferstack.components.errors import InferstackError

if TYPE_CHECKING:
    from inferstack.components.plan import Plan
    from inferstack.policies import Violation

app = typer.Typer(
    name="inferstack",
    help="Deploy a trained model to SageMaker, Azure ML, GKE or local Docker from one spec.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

# Modules that contribute commands with a `register(app)` function.
COMMAND_MODULES = (
    "inferstack.runtime.cli",
    "inferstack.components.image_cli",
    "inferstack.components.doctor",
    "inferstack.components.spec_docs",
)

EXIT_SPEC_ERROR = 2
EXIT_POLICY_VIOLATION = 3


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print `message` as an error and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@app.command()
def plan(
    stack: Annotated[str, typer.Argument(help="Stack name, e.g. local or prod-aws.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the resources as JSON.")] = False,
    project: Annotated[
        Path | None, typer.Option(help="Project folder (default: nearest with Pulumi.yaml).")
    ] = None,
    policies: Annotated[
        bool, typer.Option(help="Check the plan against the inferstack policy pack.")
    ] = True,
) -> None:
    """Offline plan: run the stack program under Pulumi's mocks and list its resources."""
    from inferstack.components.plan import run_plan

    try:
        result = run_plan(stack, project)
    except InferstackError as err:
        raise fail(str(err), EXIT_SPEC_ERROR) from None
    violations = _policy_violations(result) if policies else []
    if as_json:
        print(json.dumps([r.as_json() for r in result.resources], indent=2, default=str))
    else:
        _print_plan(stack, result)
    for violation in violations:
        err_console.print(
            f"[yellow]policy[/] {escape(str(violation))}", highlight=False, soft_wrap=True
        )
    if any(v.enforcement == "mandatory" for v in violations):
        raise fail("the plan breaks mandatory policies (see above)", EXIT_POLICY_VIOLATION)


def _policy_violations(result: Plan) -> list[Violation]:
    from inferstack.policies import Subject, evaluate

    return evaluate(Subject(r.type, r.name, r.inputs, r.urn) for r in result.resources)


def _print_plan(stack: str, result: Plan) -> None:
    console.print(
        f"[bold]Offline plan of stack {stack}[/] (Pulumi mock runtime; not `pulumi preview`: "
        "no engine, provider or cloud was contacted)"
    )
    console.print(_tree(result))
    console.print(f"{len(result.resources)} resources")
    for key, value in result.outputs.items():
        console.print(f"  output [cyan]{key}[/]: {escape(str(value))}")


def _tree(result: Plan) -> Tree:
    root = Tree(f"stack {escape(result.stack)}")
    children: dict[str | None, list] = {}
    for resource in result.resources:
        children.setdefault(resource.parent, []).append(resource)

    def add(node: Tree, parent: str | None) -> None:
        for resource in children.get(parent, []):
            label = f"[green]{resource.type}[/] {escape(resource.name)}"
            add(node.add(label), resource.name)

    add(root, None)
    return root


def _register_commands() -> None:
    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            # A module missing from this checkout, or its extra not installed.
            if err.name and (err.name == module_name or not err.name.startswith("inferstack")):
                continue
            raise
        module.register(app)


_register_commands()


def main() -> None:
    """Entry point of the `inferstack` console script."""
    app()


if __name__ == "__main__":
    main()
