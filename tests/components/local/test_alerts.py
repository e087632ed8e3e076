"""Generated Prometheus rules: valid for promtool, and the alerts fire on synthetic series."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from inferstack.components.local.alerts import alert_rules_yaml
from inferstack.components.spec.models import AlarmThresholds
from tests.components.local.conftest import local_spec

JOB = "inferstack-churn"
ROUTE = "/invocations"


def _write_rules(folder: Path, alarms: AlarmThresholds) -> Path:
    path = folder / "rules.yml"
    path.write_text(alert_rules_yaml(JOB, "churn-logreg", alarms))
    return path


def _series(metric: str, labels: dict[str, str], values: str) -> dict[str, str]:
    text = ",".join(f'{k}="{v}"' for k, v in {"job": JOB, **labels}.items())
    return {"series": f"{metric}{{{text}}}", "values": values}


def _traffic(slow_share: int, error_share: int) -> list[dict[str, str]]:
    """100 requests a minute for 30 minutes: `slow_share` take ~0.9 s, `error_share` are 500."""
    fast = 100 - slow_share
    bucket = "inferstack_request_duration_seconds_bucket"
    route = {"route": ROUTE, "code": "200"}
    return [
        _series("up", {"instance": "runtime:8080"}, "1x30"),
        _series(bucket, {**route, "le": "0.1"}, f"0+{fast}x30"),
        _series(bucket, {**route, "le": "0.5"}, f"0+{fast}x30"),
        _series(bucket, {**route, "le": "1"}, "0+100x30"),
        _series(bucket, {**route, "le": "+Inf"}, "0+100x30"),
        _series("inferstack_requests_total", route, f"0+{100 - error_share}x30"),
        _series(
            "inferstack_requests_total", {"route": ROUTE, "code": "500"}, f"0+{error_share}x30"
        ),
        # health checks and scrapes are not model traffic: they never dilute the ratios
        _series("inferstack_requests_total", {"route": "/ping", "code": "200"}, "0+1000x30"),
    ]


def _alert(rules: Path, name: str, severity: str) -> dict:
    summary = next(
        r["annotations"]["summary"]
        for r in yaml.safe_load(rules.read_text())["groups"][0]["rules"]
        if r["alert"] == name
    )
    return {
        "eval_time": "20m",
        "alertname": name,
        "exp_alerts": [
            {"exp_labels": {"severity": severity}, "exp_annotations": {"summary": summary}}
        ],
    }


def _quiet(name: str) -> dict:
    return {"eval_time": "20m", "alertname": name, "exp_alerts": []}


def test_rules_pass_promtool_check(promtool: str, tmp_path: Path) -> None:
    rules = _write_rules(tmp_path, local_spec().observability.alarms)
    result = subprocess.run(
        [promtool, "check", "rules", str(rules)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 10 rules found" in result.stdout


def test_latency_and_error_alerts_fire_on_synthetic_series(promtool: str, tmp_path: Path) -> None:
    alarms = AlarmThresholds(p99_latency_ms=500, error_rate_5xx_percent=1)
    rules = _write_rules(tmp_path, alarms)
    tests = {
        "rule_files": [rules.name],
        "evaluation_interval": "1m",
        "tests": [
            {  # 10% of requests take ~0.9 s and 5% fail: p99 > 500 ms, 5xx > 1%
                "interval": "1m",
                "input_series": _traffic(slow_share=10, error_share=5),
                "alert_rule_test": [
                    _alert(rules, "InferstackHighP99Latency", "warning"),
                    _alert(rules, "InferstackHigh5xxRate", "critical"),
                    _quiet("InferstackEndpointDown"),
                ],
            },
            {  # all fast, no errors: nothing fires
                "interval": "1m",
                "input_series": _traffic(slow_share=0, error_share=0),
                "alert_rule_test": [
                    _quiet("InferstackHighP99Latency"),
                    _quiet("InferstackHigh5xxRate"),
                    _quiet("InferstackHigh4xxRate"),
                ],
            },
        ],
    }
    test_file = tmp_path / "rules_test.yml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_thresholds_come_from_the_spec(tmp_path: Path) -> None:
    rules = yaml.safe_load(
        alert_rules_yaml(
            JOB,
            "m",
            AlarmThresholds(p99_latency_ms=250, error_rate_5xx_percent=2.5, drift_score=0.3),
        )
    )
    expr = {r["alert"]: r["expr"] for r in rules["groups"][0]["rules"]}
    assert expr["InferstackHighP99Latency"].endswith("> 0.25")
    assert expr["InferstackHigh5xxRate"].endswith("> 2.5")
    assert expr["InferstackInputDrift"].endswith("> 0.3")
    assert all(f'job="{JOB}"' in e for e in expr.values())
