"""`inferstack spec`: the deployment spec's reference, or its JSON Schema."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from inferstack.components.spec.docs import render_markdown
from inferstack.components.spec.models import DeploymentSpec


def spec(
    output_format: Annotated[
        str, typer.Option("--format", help="markdown (reference) or json-schema.")
    ] = "markdown",
) -> None:
    """Print the deployment spec's reference (Markdown) or its JSON Schema."""
    if output_format == "markdown":
        print(render_markdown(), end="")
    elif output_format == "json-schema":
        print(json.dumps(DeploymentSpec.model_json_schema(), indent=2))
    else:
        raise typer.BadParameter("use markdown or json-schema", param_hint="--format")


def register(app: typer.Typer) -> None:
    """Add `spec` to the CLI."""
    app.command()(spec)
