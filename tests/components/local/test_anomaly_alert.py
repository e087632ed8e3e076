"""The anomalous-input and attribution-shift alarms fire when their series say so, only then."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from inferstack.components.local.alerts import (
    ANOMALOUS_REQUEST_PERCENT,
    ATTRIBUTION_SHIFT,
    alert_rules_yaml,
)
from inferstack.components.spec.models import AlarmThresholds

JOB = "inferstack-churn"
NAME = "InferstackAnomalousInputs"


def _series(metric: str, per_minute: int) -> dict[str, str]:
    labels = f'job="{JOB}",model="m",version="1.0.0"'
    return {"series": f"{metric}{{{labels}}}", "values": f"0+{per_minute}x30"}


def _case(anomalous: int, fires: bool, summary: str) -> dict[str, object]:
    alerts = [{"exp_labels": {"severity": "warning"}, "exp_annotations": {"summary": summary}}]
    return {
        "interval": "1m",
        "input_series": [
            _series("inferstack_anomaly_checked_requests_total", 100),
            _series("inferstack_anomalous_requests_total", anomalous),
        ],
        "alert_rule_test": [
            {"eval_time": "25m", "alertname": NAME, "exp_alerts": alerts if fires else []}
        ],
    }


def test_anomaly_rate_alarm(promtool: str, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(alert_rules_yaml(JOB, "m", AlarmThresholds()))
    rule = next(
        r for r in yaml.safe_load(rules.read_text())["groups"][0]["rules"] if r["alert"] == NAME
    )
    summary = rule["annotations"]["summary"]
    over = int(ANOMALOUS_REQUEST_PERCENT) * 2
    under = int(ANOMALOUS_REQUEST_PERCENT) // 2
    tests = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [_case(over, True, summary), _case(under, False, summary)],
    }
    (tmp_path / "t.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", "t.yml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_attribution_shift_alarm(promtool: str, tmp_path: Path) -> None:
    name = "InferstackAttributionShift"
    rules = tmp_path / "rules.yml"
    rules.write_text(alert_rules_yaml(JOB, "m", AlarmThresholds()))
    rule = next(
        r for r in yaml.safe_load(rules.read_text())["groups"][0]["rules"] if r["alert"] == name
    )
    labels = f'job="{JOB}",model="m",version="1.0.0"'

    def case(shift: float, fires: bool) -> dict[str, object]:
        exp = [
            {
                "exp_labels": {"severity": "warning", "feature": "f3"},
                "exp_annotations": {"summary": rule["annotations"]["summary"]},
            }
        ]
        return {
            "interval": "1m",
            "input_series": [
                {
                    "series": f'inferstack_attribution_share_shift{{{labels},feature="f3"}}',
                    "values": f"{shift}x30",
                },
                {
                    "series": f'inferstack_attribution_share_shift{{{labels},feature="f1"}}',
                    "values": "0.01x30",
                },
            ],
            "alert_rule_test": [
                {"eval_time": "25m", "alertname": name, "exp_alerts": exp if fires else []}
            ],
        }

    tests = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [case(ATTRIBUTION_SHIFT + 0.1, True), case(ATTRIBUTION_SHIFT / 2, False)],
    }
    (tmp_path / "t.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", "t.yml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
