"""The inferstack model dashboard for Grafana, and the datasource it reads.

Panels: request rate by code, latency percentiles, error rate, batch size, queue
depth and in-flight requests, drift per feature (PSI and test p-value), prediction
drift, live quality with its joined outcomes, and the served model. Every query
reads a metric the runtime exports (`inferstack.runtime.metrics`), scoped to one
Prometheus scrape job.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from inferstack.components.local.alerts import INFERENCE_ROUTES
from inferstack.components.spec.models import AlarmThresholds
from inferstack.runtime.contract import Metric

DATASOURCE_UID = "inferstack-prometheus"
DASHBOARDS_DIR = "/etc/grafana/dashboards"
PROVISIONING_DIR = "/etc/grafana/provisioning"


def _panel(
    title: str,
    unit: str,
    targets: list[tuple[str, str]],
    x: int,
    y: int,
    thresholds: float | None = None,
) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if thresholds is not None:
        steps.append({"color": "red", "value": thresholds})
    return {
        "type": "timeseries",
        "title": title,
        "datasource": {"type": "prometheus", "uid": DATASOURCE_UID},
        "gridPos": {"x": x, "y": y, "w": 12, "h": 8},
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "thresholds": {"mode": "absolute", "steps": steps},
                "custom": {"thresholdsStyle": {"mode": "line" if thresholds else "off"}},
            },
            "overrides": [],
        },
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "expr": expr,
                "legendFormat": legend,
                "datasource": {"type": "prometheus", "uid": DATASOURCE_UID},
            }
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def _monitoring_panels(scoped: str, alarms: AlarmThresholds, y: int) -> list[dict[str, Any]]:
    """Drift tests per feature, prediction drift, and live quality with its joined outcomes."""
    quality = [(f"max by (metric) ({Metric.QUALITY}{{{scoped}}})", "{{metric}}")]
    return [
        _panel(
            "Input drift test p-value by feature (low = drifted)",
            "short",
            [
                (
                    f"min by (feature, test) ({Metric.DRIFT_PVALUE}{{{scoped}}})",
                    "{{feature}} {{test}}",
                )
            ],
            12,
            y,
            thresholds=alarms.drift_pvalue,
        ),
        _panel(
            "Prediction drift",
            "short",
            [
                (f"max({Metric.PREDICTION_DRIFT_SCORE}{{{scoped}}})", "PSI"),
                (
                    f"min by (test) ({Metric.PREDICTION_DRIFT_PVALUE}{{{scoped}}})",
                    "p-value {{test}}",
                ),
            ],
            0,
            y + 8,
            thresholds=alarms.prediction_drift_score,
        ),
        _panel(
            "Live quality (joined outcomes)",
            "short",
            [*quality, (f"sum({Metric.QUALITY_SAMPLES}{{{scoped}}})", "joined outcomes")],
            12,
            y + 8,
            thresholds=alarms.quality_threshold,
        ),
    ]


def dashboard(uid: str, job: str, model: str, alarms: AlarmThresholds) -> dict[str, Any]:
    """The Grafana dashboard model for scrape job `job` serving `model`."""
    served = f'job="{job}",route=~"{INFERENCE_ROUTES}"'
    scoped = f'job="{job}"'

    def quantile(q: float, metric: str, selector: str) -> str:
        return f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{selector}}}[5m])))"

    latency = Metric.REQUEST_DURATION
    panels = [
        _panel(
            "Request rate by status code",
            "reqps",
            [(f"sum by (code) (rate({Metric.REQUESTS}_total{{{served}}}[1m]))", "{{code}}")],
            0,
            0,
        ),
        _panel(
            "Latency percentiles",
            "s",
            [(quantile(q, latency, served), f"p{round(q * 100)}") for q in (0.5, 0.95, 0.99)],
            12,
            0,
            thresholds=alarms.p99_latency_ms / 1000,
        ),
        _panel(
            "Error rate",
            "percent",
            [
                (
                    f'100 * sum(rate({Metric.ERRORS}_total{{{served},code=~"{c}"}}[5m]))'
                    f" / sum(rate({Metric.REQUESTS}_total{{{served}}}[5m]))",
                    label,
                )
                for c, label in (("5..", "5xx"), ("4..", "4xx"))
            ],
            0,
            8,
            thresholds=alarms.error_rate_5xx_percent,
        ),
        _panel(
            "Batch size (rows per model call)",
            "short",
            [
                (quantile(0.5, Metric.BATCH_SIZE, scoped), "p50"),
                (quantile(0.95, Metric.BATCH_SIZE, scoped), "p95"),
                (
                    f"sum(rate({Metric.BATCH_SIZE}_sum{{{scoped}}}[5m]))"
                    f" / sum(rate({Metric.BATCH_SIZE}_count{{{scoped}}}[5m]))",
                    "mean",
                ),
            ],
            12,
            8,
        ),
        _panel(
            "Queue depth and in-flight requests",
            "short",
            [
                (f"sum({Metric.QUEUE_DEPTH}{{{scoped}}})", "queued rows"),
                (f"sum({Metric.INFLIGHT}{{{scoped}}})", "in flight"),
            ],
            0,
            16,
        ),
        _panel(
            "Input drift (PSI) by feature",
            "short",
            [(f"max by (feature) ({Metric.DRIFT_SCORE}{{{scoped}}})", "{{feature}}")],
            12,
            16,
            thresholds=alarms.drift_score,
        ),
        _panel(
            "Served model",
            "s",
            [
                (
                    f"max by (model, version, framework) ({Metric.MODEL_INFO}{{{scoped}}})",
                    "{{model}} {{version}} ({{framework}})",
                ),
                (f"max({Metric.MODEL_LOAD_SECONDS}{{{scoped}}})", "load seconds"),
            ],
            0,
            24,
        ),
        *_monitoring_panels(scoped, alarms, y=24),
    ]
    for i, panel in enumerate(panels, start=1):
        panel["id"] = i
    return {
        "uid": uid,
        "title": f"inferstack: {model}",
        "tags": ["inferstack"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "panels": panels,
    }


def dashboard_json(uid: str, job: str, model: str, alarms: AlarmThresholds) -> str:
    """The dashboard as the JSON file Grafana provisions."""
    return json.dumps(dashboard(uid, job, model, alarms), indent=2, sort_keys=True)


def datasource_yaml(prometheus_url: str) -> str:
    """Grafana datasource provisioning: the Prometheus at `prometheus_url`, as default."""
    return yaml.safe_dump(
        {
            "apiVersion": 1,
            "datasources": [
                {
                    "name": "Prometheus",
                    "type": "prometheus",
                    "uid": DATASOURCE_UID,
                    "access": "proxy",
                    "url": prometheus_url,
                    "isDefault": True,
                    "editable": False,
                }
            ],
        },
        sort_keys=False,
    )


def dashboard_provider_yaml() -> str:
    """Grafana dashboard provisioning: load the JSON files in `DASHBOARDS_DIR`."""
    return yaml.safe_dump(
        {
            "apiVersion": 1,
            "providers": [
                {
                    "name": "inferstack",
                    "type": "file",
                    "disableDeletion": True,
                    "allowUiUpdates": False,
                    "options": {"path": DASHBOARDS_DIR},
                }
            ],
        },
        sort_keys=False,
    )
