"""The drift report as one self-contained HTML file with inline SVG plots.

A summary plot (PSI per feature against the threshold), a summary table sorted by
drift, then per feature (and for the predictions) the reference and live share of
each bin or category side by side with its PSI, test statistic, p-value and verdict.
No script, no external stylesheet or font: the file opens anywhere, offline.
"""

from __future__ import annotations

from html import escape

from inferstack.components.monitoring.results import DriftResult, Report

__all__ = ["render_html", "summary_svg"]

_REF, _LIVE, _BAD, _OK = "#8a99ad", "#d9822b", "#c23030", "#0f9960"
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#182026;max-width:72em}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.3em .8em;border-bottom:1px solid #ddd;
text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.drift{color:#c23030;font-weight:bold}.stable{color:#0f9960}.feature{margin:2em 0}
svg text{font-size:11px;fill:#182026}
"""


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def summary_svg(report: Report) -> str:
    """Horizontal bars of each feature's PSI, with the threshold as a line."""
    rows = [*report.features, *([report.prediction] if report.prediction else [])]
    width, left, bar_h = 640, 170, 22
    height = 40 + bar_h * max(len(rows), 1)
    top = max([r.drift.psi for r in rows] + [report.thresholds.psi * 1.5])
    scale = (width - left - 60) / top
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="PSI per feature" '
        'font-family="sans-serif" font-size="12">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{left}" y="16" font-weight="bold">PSI per feature '
        f"(threshold {report.thresholds.psi:g})</text>",
    ]
    for k, r in enumerate(rows):
        y = 28 + k * bar_h
        color = _BAD if r.verdict == "drift" else _OK
        w = max(r.drift.psi * scale, 1)
        parts += [
            f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{escape(r.name)}</text>',
            f'<rect x="{left}" y="{y + 3}" width="{w:.1f}" height="{bar_h - 6}" fill="{color}"/>',
            f'<text x="{left + w + 4:.1f}" y="{y + 14}">{r.drift.psi:.3f}{_by_test(r)}</text>',
        ]
    x = left + report.thresholds.psi * scale
    parts += [
        f'<line x1="{x:.1f}" x2="{x:.1f}" y1="24" y2="{height - 8}" stroke="#182026" '
        'stroke-dasharray="4 3"/>',
        "</svg>",
    ]
    return "".join(parts)


def _by_test(r: DriftResult) -> str:
    """`` (KS p=...)`` when the test, not the PSI, is what flags ``r``."""
    d = r.drift
    if r.verdict != "drift" or d.pvalue is None or d.psi >= r.psi_threshold:
        return ""
    return f" ({d.test} p={d.pvalue:.2g})"


def feature_svg(result: DriftResult) -> str:
    """Reference and live share per bin (or category) as paired bars."""
    bins = result.bins
    group, bar, left, plot_h = max(28, min(60, 600 // max(len(bins), 1))), 0.0, 40, 160
    bar = (group - 6) / 2
    width = left + group * len(bins) + 20
    height = plot_h + 110  # rotated labels (up to 18 characters) above the legend
    top = max([b.reference for b in bins] + [b.live for b in bins] + [0.01])
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(result.name)}: reference vs live distribution" '
        'font-family="sans-serif" font-size="11">',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<line x1="{left}" x2="{width - 10}" y1="{plot_h + 10}" y2="{plot_h + 10}" '
        'stroke="#999"/>',
        f'<text x="{left - 4}" y="18" text-anchor="end">{top:.0%}</text>',
    ]
    for k, b in enumerate(bins):
        x = left + k * group + 3
        for j, (share, color) in enumerate(((b.reference, _REF), (b.live, _LIVE))):
            h = share / top * plot_h
            parts.append(
                f'<rect x="{x + j * bar:.1f}" y="{plot_h + 10 - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{color}"><title>{escape(b.label)}: '
                f"{'reference' if j == 0 else 'live'} {share:.1%}</title></rect>"
            )
        parts.append(
            f'<text transform="translate({x + bar:.1f},{plot_h + 22}) rotate(40)">'
            f"{escape(b.label[:18])}</text>"
        )
    legend_y = height - 8
    parts += [
        f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="{_REF}"/>',
        f'<text x="{left + 14}" y="{legend_y}">reference</text>',
        f'<rect x="{left + 90}" y="{legend_y - 9}" width="10" height="10" fill="{_LIVE}"/>',
        f'<text x="{left + 104}" y="{legend_y}">live</text>',
        "</svg>",
    ]
    return "".join(parts)


def _row(r: DriftResult) -> str:
    d = r.drift
    return (
        f'<tr><td><a href="#f-{escape(r.name)}">{escape(r.name)}</a></td><td>{r.kind}</td>'
        f'<td class="n">{d.rows}</td><td class="n">{d.psi:.4f}</td><td>{d.test or "-"}</td>'
        f'<td class="n">{_num(d.statistic)}</td><td class="n">{_num(d.pvalue)}</td>'
        f'<td class="{r.verdict.replace(" ", "-")}">{r.verdict}</td></tr>'
    )


def _section(r: DriftResult) -> str:
    d = r.drift
    return (
        f'<div class="feature" id="f-{escape(r.name)}"><h3>{escape(r.name)} '
        f'<span class="{r.verdict.replace(" ", "-")}">{r.verdict}</span></h3>'
        f"<p>{r.kind}, {d.rows} rows: PSI {d.psi:.4f}, {d.test or 'no test'} statistic "
        f"{_num(d.statistic)}, p-value {_num(d.pvalue)}</p>{feature_svg(r)}</div>"
    )


def render_html(report: Report) -> str:
    """The whole report as one HTML document."""
    t = report.thresholds
    head = "<tr><th>feature</th><th>kind</th><th>rows</th><th>PSI</th><th>test</th>"
    head += "<th>statistic</th><th>p-value</th><th>verdict</th></tr>"
    skipped = "".join(
        f'<tr><td>{escape(reason)}</td><td class="n">{n}</td></tr>'
        for reason, n in report.skipped.most_common()
    )
    filtered = ", ".join(f"{k}: {v}" for k, v in report.filtered.most_common()) or "none"
    drifted = ", ".join(escape(n) for n in report.drifted) or "none"
    pred = report.prediction
    return "".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            f"<title>Drift report: {escape(report.model)} {escape(report.version)}</title>",
            f"<style>{_STYLE}</style></head><body>",
            f"<h1>Drift report: {escape(report.model)} {escape(report.version)}</h1>",
            f"<p>Capture <code>{escape(report.capture)}</code>, {report.objects} objects, "
            f"{report.records} records; time range {_when(report.first_ts)} to "
            f"{_when(report.last_ts)}.</p>",
            f"<p>Rows read {report.rows_read}, scored {report.rows_scored}, skipped "
            f"{sum(report.skipped.values())}; records filtered out: {escape(filtered)}.</p>",
            f"<p>Drift when PSI &ge; {t.psi:g} (predictions {t.prediction_psi:g}) or the "
            f"test's p-value &lt; {t.pvalue:g}. <b>Drifted: {drifted}</b>.</p>",
            summary_svg(report),
            f"<h2>Summary</h2><table>{head}",
            "".join(_row(r) for r in report.features),
            _row(pred) if pred else "",
            "</table>",
            f"<h2>Rows skipped</h2><table><tr><th>reason</th><th>rows</th></tr>{skipped}</table>"
            if skipped
            else "<h2>Rows skipped</h2><p>none</p>",
            "<h2>Prediction drift</h2>" + (_section(pred) if pred else "<p>no profile</p>"),
            "<h2>Features</h2>",
            "".join(_section(r) for r in report.features),
            "</body></html>",
        ]
    )


def _when(ts: float | None) -> str:
    from datetime import UTC, datetime

    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
