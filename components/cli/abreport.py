"""`inferstack ab-report STACK`: per-variant latency, error rate and outcome, with tests.

SageMaker stacks read CloudWatch; `--prometheus URL` a Prometheus server's HTTP API
(the local stack's own by default); `--metrics URL` (repeatable) Prometheus text
straight from each runtime's /metrics. `--outcomes CSV` adds the user's outcome
metric (request_id, variant, outcome).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inferstack.components.cli.output import EXIT_USAGE, console, fail
from inferstack.components.errors import DeployError

if TYPE_CHECKING:
    from inferstack.components.lifecycle.abreport import Report, VariantData
    from inferstack.components.lifecycle.abstats import Comparison
    from inferstack.components.lifecycle.stacks import Stack

_UNITS = {"m": 60, "h": 3600, "d": 86400}


def parse_since(text: str) -> timedelta:
    """'90m', '24h' or '7d' as a duration."""
    match = re.fullmatch(r"(\d+)([mhd])", text.strip())
    if not match:
        raise fail(f"--since {text!r}: expected a number and m, h or d (e.g. 24h)", EXIT_USAGE)
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def _open(stack: str, project: Path | None) -> Stack:
    from inferstack.components.lifecycle.seam import NotAvailableError
    from inferstack.components.lifecycle.stacks import open_stack

    try:
        return open_stack(stack, project)
    except NotAvailableError as err:
        raise fail(
            f"{err}; ab-report reads any target's Prometheus with --prometheus URL, or each "
            "variant's /metrics with --metrics URL",
            EXIT_USAGE,
        ) from err
    except ModuleNotFoundError as err:
        raise fail(
            f"ab-report needs {err.name!r}: pip install 'inferstack[aws]'", EXIT_USAGE
        ) from err
    except DeployError as err:
        raise fail(str(err), EXIT_USAGE) from err


def _scraped(
    metrics: list[str], prometheus: str | None, since: str | None
) -> tuple[str, list[VariantData]]:
    from inferstack.components.lifecycle.abreport import (
        fetch_metrics,
        prometheus_api_variants,
        prometheus_variants,
    )

    if metrics:
        return "prometheus text", prometheus_variants(fetch_metrics(url) for url in metrics)
    assert prometheus is not None
    return f"prometheus {prometheus}", prometheus_api_variants(prometheus, since)


def _variants(stack: Stack, since: str | None) -> tuple[str, list[VariantData]]:
    """The stack's own source: CloudWatch for aws, the stack's Prometheus for local."""
    from inferstack.components.lifecycle.abreport import cloudwatch_variants

    if stack.spec.target == "local":
        port = getattr(stack.spec.options, "prometheus_port", 9090)
        return _scraped([], f"http://127.0.0.1:{port}", since)
    if stack.spec.target != "aws":
        raise fail(
            f"stack {stack.name} ({stack.spec.target}): give its Prometheus with "
            "--prometheus URL, or each variant's metrics with --metrics URL",
            EXIT_USAGE,
        )
    life = stack.lifecycle
    end = datetime.now(UTC)
    window = parse_since(since) if since else timedelta(hours=24)
    return "cloudwatch", cloudwatch_variants(
        life.cloudwatch,  # type: ignore[attr-defined]
        life.endpoint,  # type: ignore[attr-defined]
        life.variants(),
        end - window,
        end,
    )


def _number(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _interval(c: Comparison) -> str:
    if c.ci_low is None or c.ci_high is None:
        return "-"
    return f"[{c.ci_low:.3g}, {c.ci_high:.3g}]"


def print_report(report: Report) -> None:
    """The report as two rich tables: the variants, then each comparison."""
    variants = Table(title=f"A/B readout of stack {escape(report.stack)} ({report.source})")
    for column in ("variant", "version", "requests", "5xx rate", "latency mean ms", "outcomes"):
        variants.add_column(column)
    for v in report.variants:
        mark = " (baseline)" if v.variant == report.baseline else ""
        variants.add_row(
            f"{escape(v.variant)}{mark}",
            v.version,
            str(v.requests),
            f"{v.error_rate:.3%}",
            _number(v.latency_mean),
            str(len(v.outcomes)),
        )
    console.print(variants)
    level = report.rows[0].comparison.alpha
    table = Table(title=f"against {escape(report.baseline)} (B - A, alpha {level:g})")
    for column in ("metric", "variant", "test", "A", "B", "B - A", "CI", "p", "MDE", "verdict"):
        table.add_column(column, no_wrap=column in {"CI", "test"})
    for row in report.rows:
        c = row.comparison
        verdict = (
            "[yellow]not enough data yet[/]"
            if not c.enough_data
            else ("[green]significant[/]" if c.significant else "not significant")
        )
        table.add_row(
            row.metric,
            escape(row.variant),
            c.test,
            _number(c.a),
            _number(c.b),
            _number(c.difference),
            _interval(c),
            _number(c.p_value, 2),
            _number(c.mde),
            verdict,
        )
    console.print(table)
    for row in report.rows:
        if row.comparison.note:
            console.print(f"{row.metric}, {escape(row.variant)}: {escape(row.comparison.note)}")


def ab_report(
    stack: Annotated[str, typer.Argument(help="Stack name, e.g. prod-aws.")],
    outcomes: Annotated[
        Path | None, typer.Option(help="CSV of request_id,variant,outcome to compare too.")
    ] = None,
    metrics: Annotated[
        list[str] | None,
        typer.Option("--metrics", help="Prometheus /metrics URL of a variant (repeatable)."),
    ] = None,
    prometheus: Annotated[
        str | None,
        typer.Option(help="A Prometheus server's URL (default for local: its own on 127.0.0.1)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Window: 90m, 24h, 7d (CloudWatch default 24h; Prometheus default: since "
            "each runtime started)."
        ),
    ] = None,
    baseline: Annotated[
        str | None, typer.Option(help="Variant the others are compared with (default: busiest).")
    ] = None,
    alpha: Annotated[float, typer.Option(help="Significance level.", min=0.001, max=0.5)] = 0.05,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    project: Annotated[
        Path | None, typer.Option(help="Project folder (default: nearest with Pulumi.yaml).")
    ] = None,
) -> None:
    """Compare the stack's variants: latency, error rate and your outcome metric, with
    confidence intervals, a named significance test and the minimum detectable effect."""
    try:
        from inferstack.components.lifecycle.abreport import compare, read_outcomes
    except ModuleNotFoundError as err:
        raise fail(f"ab-report needs {err.name!r}: pip install scipy numpy", EXIT_USAGE) from err
    if since:
        parse_since(since)
    try:
        if metrics or prometheus:  # the stack is not read: any target's Prometheus will do
            source, variants = _scraped(metrics or [], prometheus, since)
        else:
            source, variants = _variants(_open(stack, project), since)
        kind = read_outcomes(outcomes, variants) if outcomes else None
        report = compare(stack, source, variants, baseline, kind, alpha)
    except DeployError as err:
        raise fail(str(err)) from err
    if as_json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print_report(report)


def register(app: typer.Typer) -> None:
    """Add `ab-report` to the CLI."""
    app.command("ab-report")(ab_report)
