"""Prometheus alert rules generated from the spec's alarm thresholds.

The local target's alarms: a rule file Prometheus loads beside its scrape config.
Every expression reads metrics the runtime exports (`inferstack.runtime.metrics`)
and is scoped to one scrape job, so several local endpoints never mix.
"""

from __future__ import annotations

from typing import Any

import yaml

from inferstack.components.spec.models import AlarmThresholds
from inferstack.runtime import contract
from inferstack.runtime.contract import Metric

RULES_FILE = "/etc/prometheus/rules/inferstack.rules.yml"
# Only model-serving routes count for latency and error ratios, never health or scrape.
INFERENCE_ROUTES = "|".join(contract.INFERENCE_ROUTES).replace("{name}", ".+")
RATE_WINDOW = "5m"
ANOMALOUS_REQUEST_PERCENT = 5.0
"""Share of requests holding a value outside the reference (range or category) that alarms.
A fixed default until the spec's alarm thresholds gain a field for it."""
DRIFT_FOR = "15m"
QUALITY_FOR = "15m"
RETRAIN_LABEL = "retrain"
"""Label on the alerts that ask for retraining; its value is the event's `reason`
(drift, prediction_drift, quality), for an Alertmanager route to the retraining hook."""
ATTRIBUTION_SHIFT = 0.2
"""How far a feature's share of the attributions may move from the reference's (same)."""


def _number(value: float) -> str:
    return f"{value:g}"


def _ratio(job: str, codes: str) -> str:
    scope = f'job="{job}",route=~"{INFERENCE_ROUTES}"'
    return (
        f'100 * sum(rate({Metric.REQUESTS}_total{{{scope},code=~"{codes}"}}[{RATE_WINDOW}]))'
        f" / sum(rate({Metric.REQUESTS}_total{{{scope}}}[{RATE_WINDOW}]))"
    )


def _rule(
    name: str, expr: str, for_: str, severity: str, summary: str, retrain: str | None = None
) -> dict[str, Any]:
    labels = {"severity": severity}
    if retrain:
        labels[RETRAIN_LABEL] = retrain
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": labels,
        "annotations": {"summary": summary},
    }


def drift_rules(job: str, model: str, alarms: AlarmThresholds) -> list[dict[str, Any]]:
    """Input drift (a feature's PSI, a feature's test p-value) and prediction drift."""
    scope = f'job="{job}"'
    psi, p = _number(alarms.drift_score), _number(alarms.drift_pvalue)
    pred = _number(alarms.prediction_drift_score)
    return [
        _rule(
            "InferstackInputDrift",
            f"max by (feature) ({Metric.DRIFT_SCORE}{{{scope}}}) > {psi}",
            DRIFT_FOR,
            "warning",
            f"{model}: input drift (PSI) above {psi}",
            "drift",
        ),
        _rule(
            "InferstackInputDriftTest",
            f"min by (feature, test) ({Metric.DRIFT_PVALUE}{{{scope}}}) < {p}",
            DRIFT_FOR,
            "warning",
            f"{model}: input drift (a feature's KS / chi-squared p-value below {p})",
            "drift",
        ),
        _rule(
            "InferstackPredictionDrift",
            f"max({Metric.PREDICTION_DRIFT_SCORE}{{{scope}}}) > {pred}",
            DRIFT_FOR,
            "warning",
            f"{model}: prediction drift (PSI of the predictions) above {pred}",
            "prediction_drift",
        ),
        _rule(
            "InferstackPredictionDriftTest",
            f"min by (test) ({Metric.PREDICTION_DRIFT_PVALUE}{{{scope}}}) < {p}",
            DRIFT_FOR,
            "warning",
            f"{model}: prediction drift (the predictions' test p-value below {p})",
            "prediction_drift",
        ),
    ]


def quality_rules(job: str, model: str, alarms: AlarmThresholds) -> list[dict[str, Any]]:
    """Live quality past the spec's level, once enough outcomes are joined (none unset)."""
    metric, level = alarms.quality_metric, alarms.quality_threshold
    if metric is None or level is None:
        return []
    op, side = ("<", "below") if alarms.quality_floor else (">", "above")
    n = alarms.quality_min_samples
    quality = f'{Metric.QUALITY}{{job="{job}",metric="{metric}"}}'
    samples = f'{Metric.QUALITY_SAMPLES}{{job="{job}"}}'
    return [
        _rule(
            "InferstackLowQuality",
            f"(min by (model, version) ({quality}) {op} {_number(level)})"
            f" and on (model, version) (sum by (model, version) ({samples}) >= {n})",
            QUALITY_FOR,
            "warning",
            f"{model}: live {metric} {side} {_number(level)} over at least {n} joined outcomes",
            "quality",
        ),
    ]


def alert_rules(job: str, model: str, alarms: AlarmThresholds) -> dict[str, Any]:
    """The rule file for scrape job `job` serving `model`, as a mapping."""
    p99_s = alarms.p99_latency_ms / 1000
    scope = f'job="{job}",route=~"{INFERENCE_ROUTES}"'
    rules = [
        _rule(
            "InferstackEndpointDown",
            f'up{{job="{job}"}} == 0',
            "1m",
            "critical",
            f"{model}: Prometheus cannot scrape the runtime",
        ),
        _rule(
            "InferstackHighP99Latency",
            "histogram_quantile(0.99, sum by (le) (rate("
            f"{Metric.REQUEST_DURATION}_bucket{{{scope}}}[{RATE_WINDOW}])))"
            f" > {_number(p99_s)}",
            "5m",
            "warning",
            f"{model}: p99 latency above {_number(alarms.p99_latency_ms)} ms",
        ),
        _rule(
            "InferstackHigh5xxRate",
            f"{_ratio(job, '5..')} > {_number(alarms.error_rate_5xx_percent)}",
            "5m",
            "critical",
            f"{model}: more than {_number(alarms.error_rate_5xx_percent)}% "
            "of requests fail with 5xx",
        ),
        _rule(
            "InferstackHigh4xxRate",
            f"{_ratio(job, '4..')} > {_number(alarms.error_rate_4xx_percent)}",
            "5m",
            "warning",
            f"{model}: more than {_number(alarms.error_rate_4xx_percent)}% "
            "of requests are rejected with 4xx",
        ),
        _rule(
            "InferstackAnomalousInputs",
            f'100 * sum(rate({Metric.ANOMALOUS_REQUESTS}_total{{job="{job}"}}[{RATE_WINDOW}]))'
            f' / sum(rate({Metric.ANOMALY_CHECKED_REQUESTS}_total{{job="{job}"}}[{RATE_WINDOW}]))'
            f" > {_number(ANOMALOUS_REQUEST_PERCENT)}",
            "15m",
            "warning",
            f"{model}: more than {_number(ANOMALOUS_REQUEST_PERCENT)}% of requests hold values "
            "outside the reference (ranges or categories)",
        ),
        _rule(
            "InferstackAttributionShift",
            f'max by (feature) ({Metric.ATTRIBUTION_SHARE_SHIFT}{{job="{job}"}})'
            f" > {_number(ATTRIBUTION_SHIFT)}",
            "15m",
            "warning",
            f"{model}: a feature's share of the explanations moved more than "
            f"{_number(ATTRIBUTION_SHIFT)} from the reference",
        ),
    ]
    rules += drift_rules(job, model, alarms) + quality_rules(job, model, alarms)
    return {"groups": [{"name": job, "rules": rules}]}


def alert_rules_yaml(job: str, model: str, alarms: AlarmThresholds) -> str:
    """The rule file for `job` as Prometheus reads it."""
    return yaml.safe_dump(alert_rules(job, model, alarms), sort_keys=False, width=200)
