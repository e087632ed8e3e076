"""The Grafana dashboard: valid JSON, valid PromQL, and only metrics the runtime exports."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import yaml

from inferstack.components.local.dashboard import (
    DATASOURCE_UID,
    dashboard_json,
    dashboard_provider_yaml,
    datasource_yaml,
)
from inferstack.components.spec.models import AlarmThresholds
from inferstack.runtime.drift_monitor import DriftReport
from inferstack.runtime.drift_stats import Drift

METRIC = re.compile(r"\b(inferstack_[a-z_]+)")


def _exported_metric_names() -> set[str]:
    """Every sample name the runtime's registry exposes, after real observations."""
    from inferstack.runtime.metrics import Metrics

    metrics = Metrics("m", "1.0.0", "sklearn")
    metrics.observe_request("/invocations", 200, 0.01)
    metrics.observe_request("/invocations", 500, 0.01)
    metrics.batch_size.observe(4)
    metrics.queue_depth.set(1)
    metrics.inflight.set(1)
    metrics.load_seconds.set(0.5)
    metrics.set_drift("f0", 0.1)
    ks = Drift(psi=0.1, rows=100, test="ks", statistic=0.2, pvalue=0.03)
    metrics.set_drift_report(DriftReport(features={"f0": ks}, prediction=ks))
    metrics.set_quality({"auc": 0.8}, 120)
    return {sample.name for family in metrics.registry.collect() for sample in family.samples}


def _dashboard() -> dict:
    return json.loads(
        dashboard_json("inferstack-churn", "inferstack-churn", "churn", AlarmThresholds())
    )


def test_dashboard_is_valid_grafana_json() -> None:
    board = _dashboard()
    assert board["uid"] == "inferstack-churn"
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    titles = " ".join(p["title"].lower() for p in board["panels"])
    topics = ("latency", "request rate", "error rate", "batch size", "drift", "prediction drift")
    for topic in (*topics, "p-value by feature", "live quality"):
        assert topic in titles, topic
    for panel in board["panels"]:
        assert panel["datasource"]["uid"] == DATASOURCE_UID
        assert panel["targets"], panel["title"]
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])


def test_every_panel_query_names_an_exported_metric() -> None:
    exported = _exported_metric_names()
    for panel in _dashboard()["panels"]:
        for target in panel["targets"]:
            names = set(METRIC.findall(target["expr"]))
            assert names, f"{panel['title']}: no inferstack metric in {target['expr']}"
            assert names <= exported, f"{panel['title']}: {names - exported} not exported"


def test_every_panel_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    exprs = [t["expr"] for p in _dashboard()["panels"] for t in p["targets"]]
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"dashboard:query_{i}", "expr": e} for i, e in enumerate(exprs)
                ],
            }
        ]
    }
    path = tmp_path / "queries.yml"
    path.write_text(yaml.safe_dump(rules))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_provisioning_files() -> None:
    datasource = yaml.safe_load(datasource_yaml("http://prom:9090"))["datasources"][0]
    assert datasource["uid"] == DATASOURCE_UID
    assert datasource["url"] == "http://prom:9090"
    provider = yaml.safe_load(dashboard_provider_yaml())["providers"][0]
    assert provider["type"] == "file"
