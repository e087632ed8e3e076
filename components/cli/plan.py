"""`inferstack plan STACK`: the stack program under Pulumi's mocks, checked by the policy pack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.tree import Tree

from inferstack.components.cli.output import (
    EXIT_POLICY_VIOLATION,
    EXIT_USAGE,
    console,
    err_console,
    fail,
)
from inferstack.components.errors import DeployError

if TYPE_CHECKING:
    from inferstack.components.plan import Plan
    from inferstack.policies import Violation


def plan(
    stack: Annotated[str, typer.Argument(help="Stack name, e.g. local or prod-aws.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the resources as JSON.")] = False,
    project: Annotated[
        Path | None, typer.Option(help="Project folder (default: nearest with Pulumi.yaml).")
    ] = None,
    policies: Annotated[
        bool, typer.Option(help="Check the plan against the inferstack policy pack.")
    ] = True,
    cost: Annotated[
        bool, typer.Option("--cost", help="Show the monthly cost estimate, line by line.")
    ] = False,
) -> None:
    """Offline plan: run the stack program under Pulumi's mocks and list its resources."""
    from inferstack.components.plan.run import run_plan

    try:
        result = run_plan(stack, project)
    except DeployError as err:
        raise fail(str(err), EXIT_USAGE) from None
    try:
        violations = _policy_violations(result, project) if policies else []
    except ValueError as err:  # PolicyConfigError: the stack's policy config is wrong
        raise fail(str(err), EXIT_USAGE) from None
    if as_json:
        print(json.dumps([r.as_json() for r in result.resources], indent=2, default=str))
    else:
        _print_plan(stack, result)
        _print_cost(stack, project, itemised=cost)
    for violation in violations:
        err_console.print(
            f"[yellow]policy[/] {escape(str(violation))}", highlight=False, soft_wrap=True
        )
    if any(v.enforcement == "mandatory" for v in violations):
        raise fail("the plan breaks mandatory policies (see above)", EXIT_POLICY_VIOLATION)


def _policy_violations(result: Plan, project: Path | None) -> list[Violation]:
    """The plan's violations under the stack's policy config, if it has one."""
    from inferstack.components.spec.config import find_project_root
    from inferstack.policies import RULES, Subject, evaluate
    from inferstack.policies.rules import config_file, load_config

    config = load_config(config_file(project or find_project_root(), result.stack))
    subjects = (Subject(r.type, r.name, r.inputs, r.urn) for r in result.resources)
    return evaluate(subjects, RULES, config)


def _print_cost(stack: str, project: Path | None, *, itemised: bool) -> None:
    from inferstack.components.cli.cost import print_cost, stack_cost

    try:
        estimate = stack_cost(stack, project)
    except DeployError as err:  # a program without an inferstack spec has no estimate
        console.print(f"cost not estimated: {escape(str(err))}", highlight=False)
        return
    if itemised:
        print_cost(estimate)
    else:
        console.print(escape(estimate.summary()), highlight=False)


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


def register(app: typer.Typer) -> None:
    """Add `plan` to the CLI."""
    app.command()(plan)
