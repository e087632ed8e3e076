"""`inferstack drift-report CAPTURE --bundle B`: captured requests against the reference.

CAPTURE is a local capture folder or an object-store prefix (s3://, gs://, an Azure
blob https:// URL); SageMaker's data capture under s3:// is read as well. Writes
`drift-report.html` and `drift-report.json` to `--out` and prints the summary (or the
JSON with `--json`). Exits 0 whatever the drift: the report is the result.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from inferstack.components.cli.output import EXIT_USAGE, console, fail
from inferstack.components.errors import DeployError

_UNITS = {"m": 60, "h": 3600, "d": 86400}


def parse_time(text: str | None, option: str, now: datetime) -> float | None:
    """`24h`/`7d`/`90m` before now, or an ISO 8601 time (UTC unless it says), as Unix seconds."""
    if text is None:
        return None
    if match := re.fullmatch(r"(\d+)([mhd])", text.strip()):
        return (now - timedelta(seconds=int(match[1]) * _UNITS[match[2]])).timestamp()
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise fail(
            f"{option} {text!r}: expected a duration (90m, 24h, 7d) or an ISO time "
            "(2026-01-31T12:00:00Z)",
            EXIT_USAGE,
        ) from err
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def drift_report(
    capture: Annotated[
        str, typer.Argument(help="Capture folder, s3://, gs:// or Azure blob https:// prefix.")
    ],
    bundle: Annotated[
        Path, typer.Option("--bundle", help="Bundle directory with a reference profile.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="Folder for drift-report.html and .json.")
    ] = Path("drift-report"),
    since: Annotated[
        str | None, typer.Option("--since", help="Only records from then: 24h, 7d or ISO time.")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Only records before then: 24h, 7d or ISO time.")
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="Only records of this model version.")
    ] = None,
    psi: Annotated[float, typer.Option("--psi", help="PSI at which a feature drifts.")] = 0.2,
    pvalue: Annotated[
        float, typer.Option("--pvalue", help="Test p-value below which a feature drifts.")
    ] = 0.01,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON report.")] = False,
) -> None:
    """Drift of captured requests against the bundle's reference: HTML and JSON report."""
    from inferstack.components.monitoring import (
        Thresholds,
        build_report,
        load_reference,
        open_source,
        render_html,
    )
    from inferstack.runtime.errors import InferstackError

    if psi <= 0 or not 0 < pvalue < 1:
        raise fail("--psi must be above 0 and --pvalue between 0 and 1", EXIT_USAGE)
    now = datetime.now(UTC)
    start, end = parse_time(since, "--since", now), parse_time(until, "--until", now)
    try:
        reference = load_reference(bundle)
        report = build_report(
            open_source(capture), reference, Thresholds(psi, pvalue, psi), start, end, version
        )
    except (DeployError, InferstackError) as err:
        raise fail(str(err), EXIT_USAGE) from err
    data = report.to_json()
    out.mkdir(parents=True, exist_ok=True)
    (out / "drift-report.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out / "drift-report.html").write_text(render_html(report), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    table = Table("feature", "rows", "PSI", "test", "statistic", "p-value", "verdict")
    rows = [*report.features, *([report.prediction] if report.prediction else [])]
    for r in rows:
        d = r.drift
        table.add_row(
            escape(r.name),
            str(d.rows),
            f"{d.psi:.4f}",
            d.test or "-",
            "-" if d.statistic is None else f"{d.statistic:.4g}",
            "-" if d.pvalue is None else f"{d.pvalue:.3g}",
            r.verdict,
        )
    console.print(table)
    skipped = sum(report.skipped.values())
    console.print(
        f"{report.rows_scored} of {report.rows_read} rows scored, {skipped} skipped; "
        f"drifted: {', '.join(report.drifted) or 'none'}; report in {out}/drift-report.html",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add `drift-report` to the CLI."""
    app.command("drift-report")(drift_report)
