"""The A/B readout: per-variant metrics from CloudWatch or Prometheus, the user's
outcomes, and each variant compared with the baseline by `abstats`.

- SageMaker variants (CloudWatch, AWS/SageMaker): requests are `Invocations`, errors
  `Invocation5XXErrors`, latency is `ModelLatency`; each period's average latency is
  one observation (so a metric read at 60 s over an hour gives 60 per variant).
- Prometheus text (a runtime's /metrics, the local and GKE targets): series are
  split into variants by the `version` label; requests and errors are the inference
  routes' counters, and latency is compared from the histogram: the exact mean
  (`_sum`/`_count`) and a standard deviation from the bucket midpoints.
- Outcomes: a CSV with `request_id,variant,outcome` columns; `variant` is a variant
  name or a version. 0/1 (or true/false) outcomes are a rate; any other numbers are
  a continuous metric.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from inferstack.components.lifecycle import abstats
from inferstack.components.lifecycle.seam import LifecycleError
from inferstack.runtime.contract import INFERENCE_ROUTES, Metric

BINARY = {"0": 0.0, "1": 1.0, "false": 0.0, "true": 1.0}


@dataclass
class VariantData:
    """What one variant served."""

    variant: str
    version: str
    requests: int = 0
    errors: int = 0
    """Server errors (5xx)."""
    latency_ms: list[float] = field(default_factory=list)
    """Latency observations (per-period averages), when the source has them."""
    latency_summary: tuple[float, float, int] | None = None
    """(mean, sd, count) in ms, when the source has only a histogram."""
    outcomes: list[float] = field(default_factory=list)

    @property
    def error_rate(self) -> float:
        """Errors per request (0 without requests)."""
        return self.errors / self.requests if self.requests else 0.0

    @property
    def latency_mean(self) -> float | None:
        """Mean latency in ms, if known."""
        if self.latency_summary:
            return self.latency_summary[0]
        return sum(self.latency_ms) / len(self.latency_ms) if self.latency_ms else None


@dataclass(frozen=True)
class Row:
    """One metric of one variant compared with the baseline."""

    metric: str
    variant: str
    baseline: str
    comparison: abstats.Comparison

    def as_json(self) -> dict[str, Any]:
        """The row as JSON-ready data."""
        return {
            "metric": self.metric,
            "variant": self.variant,
            "baseline": self.baseline,
            **self.comparison.as_json(),
        }


@dataclass
class Report:
    """The readout: the variants, the baseline and every comparison."""

    stack: str
    source: str
    baseline: str
    variants: list[VariantData]
    rows: list[Row]
    outcome_kind: str | None = None

    @property
    def enough_data(self) -> bool:
        """Whether every comparison had enough data."""
        return all(r.comparison.enough_data for r in self.rows)

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "stack": self.stack,
            "source": self.source,
            "baseline": self.baseline,
            "enough_data": self.enough_data,
            "outcome": self.outcome_kind,
            "variants": [
                {
                    "variant": v.variant,
                    "version": v.version,
                    "requests": v.requests,
                    "errors": v.errors,
                    "error_rate": v.error_rate,
                    "latency_mean_ms": v.latency_mean,
                    "outcomes": len(v.outcomes),
                }
                for v in self.variants
            ],
            "comparisons": [r.as_json() for r in self.rows],
        }


def cloudwatch_variants(
    cloudwatch: Any,
    endpoint: str,
    variants: dict[str, str],
    start: datetime,
    end: datetime,
    period_s: int = 60,
) -> list[VariantData]:
    """Each variant's requests, 5xx errors and per-period latency from CloudWatch."""
    from botocore.exceptions import BotoCoreError, ClientError

    def series(metric: str, variant: str, statistic: str) -> list[float]:
        try:
            found = cloudwatch.get_metric_statistics(
                Namespace="AWS/SageMaker",
                MetricName=metric,
                Dimensions=[
                    {"Name": "EndpointName", "Value": endpoint},
                    {"Name": "VariantName", "Value": variant},
                ],
                StartTime=start,
                EndTime=end,
                Period=period_s,
                Statistics=[statistic],
            )
        except (BotoCoreError, ClientError) as err:
            raise LifecycleError(f"GetMetricStatistics {metric} ({variant}): {err}") from err
        points = sorted(found.get("Datapoints", []), key=lambda p: p["Timestamp"])
        return [float(p[statistic]) for p in points]

    out = []
    for variant, version in variants.items():
        latency_us = series("ModelLatency", variant, "Average")
        out.append(
            VariantData(
                variant,
                version,
                requests=round(sum(series("Invocations", variant, "Sum"))),
                errors=round(sum(series("Invocation5XXErrors", variant, "Sum"))),
                latency_ms=[v / 1000 for v in latency_us],  # ModelLatency is in microseconds
            )
        )
    return out


def _inference(labels: dict[str, str]) -> bool:
    route = labels.get("route", "")
    return route in INFERENCE_ROUTES or "Infer" in route


def fetch_metrics(url: str, timeout_s: float = 10.0) -> str:
    """The Prometheus text a runtime's /metrics (or any exposition URL) serves."""
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise LifecycleError(f"--metrics {url!r}: expected an http(s) URL")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310
            return str(response.read().decode())
    except (urllib.error.URLError, OSError) as err:
        raise LifecycleError(f"cannot read metrics from {url}: {err}") from err


def prometheus_variants(texts: Iterable[str], label: str = "version") -> list[VariantData]:
    """Variants (by `label`) from Prometheus text expositions (one per runtime)."""
    from prometheus_client.parser import text_string_to_metric_families

    data: dict[str, VariantData] = {}
    buckets: dict[str, dict[float, float]] = {}
    sums: dict[str, float] = {}
    try:
        families = [f for text in texts for f in text_string_to_metric_families(text)]
    except ValueError as err:
        raise LifecycleError(f"not Prometheus text exposition: {err}") from err
    for family in families:
        for sample in family.samples:
            key = sample.labels.get(label)
            if key is None or not _inference(sample.labels):
                continue
            v = data.setdefault(key, VariantData(key, sample.labels.get("version", key)))
            if sample.name == f"{Metric.REQUESTS}_total":
                v.requests += int(sample.value)
            elif (
                sample.name == f"{Metric.ERRORS}_total" and sample.labels.get("code", "")[:1] == "5"
            ):
                v.errors += int(sample.value)
            elif sample.name == f"{Metric.REQUEST_DURATION}_bucket":
                le = float(sample.labels["le"])
                per = buckets.setdefault(key, {})
                per[le] = per.get(le, 0.0) + sample.value
            elif sample.name == f"{Metric.REQUEST_DURATION}_sum":
                sums[key] = sums.get(key, 0.0) + sample.value
    for key, per in buckets.items():
        data[key].latency_summary = _histogram_summary(per, sums.get(key, 0.0))
    return list(data.values())


def _query(base: str, promql: str, timeout_s: float) -> list[dict[str, Any]]:
    """The result vector of an instant query against the Prometheus HTTP API at `base`."""
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    url = f"{base.rstrip('/')}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310
            body = json.loads(response.read())
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:300]
        raise LifecycleError(f"Prometheus at {base} refused {promql!r}: {detail}") from err
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise LifecycleError(f"cannot query Prometheus at {base}: {err}") from err
    if body.get("status") != "success" or body.get("data", {}).get("resultType") != "vector":
        raise LifecycleError(f"Prometheus at {base}: unexpected answer to {promql!r}: {body}")
    return list(body["data"]["result"])


def prometheus_api_variants(
    base: str, window: str | None = None, label: str = "version", timeout_s: float = 10.0
) -> list[VariantData]:
    """Variants (by `label`) from a Prometheus server's HTTP API: each runtime's counters
    summed over its replicas, since they started (`window` None) or their increase over
    `window` (e.g. '24h'; Prometheus extrapolates, so counts are approximate)."""
    # RE2 in a PromQL string literal: the regex's backslashes are escaped once more
    routes = "|".join(re.escape(r) for r in INFERENCE_ROUTES).replace("\\", "\\\\")
    selector = f'route=~"{routes}|.*Infer.*"'

    def per(metric: str, extra: str = "", by: str = label) -> list[dict[str, Any]]:
        series = f"{metric}{{{selector}{extra}}}"
        expr = f"increase({series}[{window}])" if window else series
        return _query(base, f"sum by ({by}) ({expr})", timeout_s)

    data: dict[str, VariantData] = {}
    for row in per(f"{Metric.REQUESTS}_total"):
        key = row["metric"].get(label, "")
        data[key] = VariantData(key, key, requests=round(float(row["value"][1])))
    for row in per(f"{Metric.ERRORS}_total", ',code=~"5.."'):
        if row["metric"].get(label, "") in data:
            data[row["metric"][label]].errors = round(float(row["value"][1]))
    sums = {
        r["metric"].get(label, ""): float(r["value"][1])
        for r in per(f"{Metric.REQUEST_DURATION}_sum")
    }
    buckets: dict[str, dict[float, float]] = {}
    for row in per(f"{Metric.REQUEST_DURATION}_bucket", by=f"{label}, le"):
        key = row["metric"].get(label, "")
        buckets.setdefault(key, {})[float(row["metric"]["le"])] = float(row["value"][1])
    for key, cumulative in buckets.items():
        if key in data:
            data[key].latency_summary = _histogram_summary(cumulative, sums.get(key, 0.0))
    return list(data.values())


def _histogram_summary(cumulative: dict[float, float], total: float) -> tuple[float, float, int]:
    """(mean, sd, count) in ms of a cumulative histogram in seconds: the mean from its sum,
    the sd from bucket midpoints (the +Inf bucket at the last finite bound)."""
    edges = sorted(cumulative)
    count = round(cumulative[edges[-1]]) if edges else 0
    if count == 0:
        return (0.0, 0.0, 0)
    mean = total / count
    finite = [e for e in edges if math.isfinite(e)]
    lower, previous, square = 0.0, 0.0, 0.0
    for edge in edges:
        n = cumulative[edge] - previous
        upper = edge if math.isfinite(edge) else (finite[-1] if finite else mean)
        mid = (lower + upper) / 2 if math.isfinite(edge) else upper
        square += n * (mid - mean) ** 2
        lower, previous = upper, cumulative[edge]
    sd = math.sqrt(square / (count - 1)) if count > 1 else 0.0
    return (mean * 1000, sd * 1000, count)


def read_outcomes(path: Path, variants: Iterable[VariantData]) -> str:
    """Add the outcomes in CSV `path` to `variants`; returns 'rate' or 'continuous'."""
    by_name = {}
    for v in variants:
        by_name[v.variant] = v
        by_name.setdefault(v.version, v)
    try:
        handle = path.open(newline="")
    except OSError as err:
        raise LifecycleError(f"cannot read outcomes {path}: {err}") from err
    rows: list[tuple[VariantData, str]] = []
    with handle:
        reader = csv.DictReader(handle)
        missing = {"request_id", "variant", "outcome"} - set(reader.fieldnames or ())
        if missing:
            raise LifecycleError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for line, record in enumerate(reader, 2):
            variant = by_name.get(record["variant"])
            if variant is None:
                raise LifecycleError(
                    f"{path}:{line}: variant {record['variant']!r} is not one of "
                    + ", ".join(sorted(by_name))
                )
            rows.append((variant, (record["outcome"] or "").strip().lower()))
    binary = all(value in BINARY for _, value in rows)
    for (variant, value), line in zip(rows, range(2, len(rows) + 2), strict=True):
        if binary:
            variant.outcomes.append(BINARY[value])
            continue
        try:
            number = float(value)
        except ValueError:
            raise LifecycleError(f"{path}:{line}: outcome {value!r} is not a number") from None
        if not math.isfinite(number):
            raise LifecycleError(f"{path}:{line}: outcome {value!r} is not finite")
        variant.outcomes.append(number)
    return "rate" if binary else "continuous"


def compare(
    stack: str,
    source: str,
    variants: list[VariantData],
    baseline: str | None = None,
    outcome_kind: str | None = None,
    alpha: float = abstats.ALPHA,
) -> Report:
    """Every variant against the baseline (default: the one with the most requests)."""
    if len(variants) < 2:
        found = ", ".join(v.variant for v in variants) or "none"
        raise LifecycleError(f"an A/B readout needs two variants with metrics; found {found}")
    names = [v.variant for v in variants]
    if baseline is None:
        base = max(variants, key=lambda v: v.requests)
    elif baseline in names:
        base = variants[names.index(baseline)]
    else:
        raise LifecycleError(f"--baseline {baseline!r} is not one of {', '.join(names)}")
    rows = []
    for v in variants:
        if v is base:
            continue

        def row(metric: str, comparison: abstats.Comparison, v: VariantData = v) -> Row:
            return Row(metric, v.variant, base.variant, comparison)

        rows.append(
            row(
                "error rate",
                abstats.two_proportions(base.errors, base.requests, v.errors, v.requests, alpha),
            )
        )
        if base.latency_summary and v.latency_summary:
            rows.append(
                row(
                    "latency ms",
                    abstats.welch_from_stats(base.latency_summary, v.latency_summary, alpha),
                )
            )
        elif base.latency_ms or v.latency_ms:
            rows.append(row("latency ms", abstats.continuous(base.latency_ms, v.latency_ms, alpha)))
        if outcome_kind == "rate":
            ka, kb = round(sum(base.outcomes)), round(sum(v.outcomes))
            rows.append(
                row(
                    "outcome rate",
                    abstats.two_proportions(ka, len(base.outcomes), kb, len(v.outcomes), alpha),
                )
            )
        elif outcome_kind == "continuous":
            rows.append(row("outcome", abstats.continuous(base.outcomes, v.outcomes, alpha)))
    return Report(stack, source, base.variant, variants, rows, outcome_kind)
