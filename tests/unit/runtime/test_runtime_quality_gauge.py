"""A live quality metric that is no longer computed is withdrawn from /metrics."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from inferstack.runtime.contract import Metric
from inferstack.runtime.metrics import Metrics

SCRIPT = """
from inferstack.runtime.metrics import Metrics
m = Metrics("m", "1.0.0", "sklearn")
m.set_quality({"auc": 0.91, "accuracy": 0.8}, 40)
m.set_quality({"accuracy": 0.7}, 12)
print(m.exposition().decode())
"""


def _quality(exposition: str) -> dict[str, float]:
    return {
        s.labels["metric"]: s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name == Metric.QUALITY
    }


def test_a_metric_no_longer_computed_is_removed() -> None:
    metrics = Metrics("m", "1.0.0", "sklearn")
    metrics.set_quality({"auc": 0.91, "accuracy": 0.8}, 40)
    assert _quality(metrics.exposition().decode()) == {"auc": 0.91, "accuracy": 0.8}
    metrics.set_quality({"accuracy": 0.7}, 12)  # the window now holds one class: no AUC
    assert _quality(metrics.exposition().decode()) == {"accuracy": 0.7}
    metrics.set_quality({"auc": 0.5, "accuracy": 0.6}, 50)
    assert _quality(metrics.exposition().decode()) == {"auc": 0.5, "accuracy": 0.6}


def test_with_several_workers_it_reads_nan(tmp_path: Path) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True
    ).stdout
    values = _quality(out)
    assert values["accuracy"] == 0.7
    assert values["auc"] != values["auc"]  # NaN: no alarm compares it as a current value
