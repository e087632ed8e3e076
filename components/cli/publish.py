"""`inferstack publish BUNDLE --to huggingface|s3`: upload a bundle with a generated model card.

The Hugging Face token comes from the usual places (HF_TOKEN, `hf auth login`); the
S3 credentials from boto3's. Progress goes to stderr; the result (where it went) to
stdout, as JSON with --json.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from inferstack.components.cli.output import EXIT_USAGE, console, err_console, fail
from inferstack.components.errors import DeployError


class Destination(StrEnum):
    """Where `publish` uploads to."""

    huggingface = "huggingface"
    s3 = "s3"


def parse_metrics(pairs: list[str]) -> dict[str, float]:
    """`name=value` options as a mapping of floats, or an error naming the bad one."""
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise fail(f"--metric {pair!r}: expected name=number, e.g. accuracy=0.93", EXIT_USAGE)
    return out


def publish(
    bundle: Annotated[Path, typer.Argument(help="The bundle folder (holding inferstack.yaml).")],
    to: Annotated[Destination, typer.Option("--to", help="huggingface or s3.")],
    repo: Annotated[
        str | None, typer.Option(help="Hub model repo, e.g. acme/churn (--to huggingface).")
    ] = None,
    uri: Annotated[
        str | None, typer.Option(help="s3://bucket/prefix (--to s3); adds <name>/<version>/.")
    ] = None,
    metric: Annotated[
        list[str] | None, typer.Option(help="An evaluation metric, name=value (repeatable).")
    ] = None,
    dataset: Annotated[str, typer.Option(help="What the metrics were measured on.")] = (
        "held-out validation set"
    ),
    intended_use: Annotated[
        str, typer.Option(help="Intended use (default: the bundle's description).")
    ] = "",
    license_id: Annotated[
        str | None, typer.Option("--license", help="License id, e.g. apache-2.0.")
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Create the hub repo public (default private).")
    ] = False,
    endpoint: Annotated[
        str | None, typer.Option(help="Hub API URL (default: HF_ENDPOINT or huggingface.co).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Upload a bundle with a generated model card (framework, input schema, metrics,
    version, intended use) to the Hugging Face Hub or S3."""
    from inferstack.components.lifecycle import publish as publishing

    if to is Destination.huggingface and not repo:
        raise fail("--to huggingface needs --repo OWNER/NAME", EXIT_USAGE)
    if to is Destination.s3 and not uri:
        raise fail("--to s3 needs --uri s3://bucket[/prefix]", EXIT_USAGE)
    info = publishing.CardInfo(parse_metrics(metric or []), dataset, intended_use, license_id)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console,
        transient=True,
    )
    try:
        card = publishing.model_card(bundle, info)
        with progress:
            task = progress.add_task(f"uploading {bundle.name}", total=None)

            def report(name: str, done: int, total: int) -> None:
                progress.update(task, completed=done, total=total, description=f"{name}")

            if to is Destination.huggingface:
                assert repo is not None
                where = publishing.to_huggingface(
                    bundle, repo, card, endpoint=endpoint, private=not public, progress=report
                )
                result = {"to": "huggingface", "repo": repo, "commit_url": where}
            else:
                assert uri is not None
                keys = publishing.to_s3(bundle, uri, card, progress=report)
                result = {"to": "s3", "uri": uri, "keys": keys}
    except ModuleNotFoundError as err:
        extra = "publish" if to is Destination.huggingface else "aws"
        raise fail(
            f"publish needs {err.name!r}: pip install 'inferstack[{extra}]'", EXIT_USAGE
        ) from err
    except DeployError as err:
        raise fail(str(err)) from err
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        console.print(f"published {escape(str(bundle))}: {escape(json.dumps(result))}")


def register(app: typer.Typer) -> None:
    """Add `publish` to the CLI."""
    app.command()(publish)
