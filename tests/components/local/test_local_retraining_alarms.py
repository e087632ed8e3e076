"""The local stack's drift and quality alerts, run by `promtool test rules`.

Synthetic series carry the runtime's own metric names and labels (runtime/metrics.py:
feature and test on the drift gauges, metric on the quality gauge, model and version on
all). Each alert fires when its series cross the spec's level and stays quiet when they
do not; the quality alert waits for enough joined outcomes. Every alert that asks for
retraining carries the `retrain` label with the event's reason.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

from inferstack.components.local.alerts import RETRAIN_LABEL, alert_rules_yaml
from inferstack.components.monitoring.retrain_event import RETRAIN_REASONS
from inferstack.components.spec.models import AlarmThresholds
from inferstack.runtime.contract import Metric

JOB = "inferstack-churn"
MV = {"model": "churn", "version": "1.2.0"}
ALARMS = AlarmThresholds(
    drift_score=0.25,
    drift_pvalue=0.01,
    prediction_drift_score=0.3,
    quality_metric="auc",
    quality_threshold=0.7,
    quality_min_samples=100,
)


def _series(name: str, values: str, **labels: str) -> dict[str, str]:
    text = ",".join(f'{k}="{v}"' for k, v in {"job": JOB, **MV, **labels}.items())
    return {"series": f"{name}{{{text}}}", "values": values}


def _summary(rules: dict[str, Any], name: str) -> str:
    return next(r for r in rules["groups"][0]["rules"] if r["alert"] == name)["annotations"][
        "summary"
    ]


def _fires(rules: dict[str, Any], name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {
        "eval_time": "30m",
        "alertname": name,
        "exp_alerts": [
            {"exp_labels": labels, "exp_annotations": {"summary": _summary(rules, name)}}
        ],
    }


def _quiet(name: str, at: str = "30m") -> dict[str, Any]:
    return {"eval_time": at, "alertname": name, "exp_alerts": []}


def _run(promtool: str, tmp_path: Path, tests: list[dict[str, Any]]) -> None:
    (tmp_path / "rules.yml").write_text(alert_rules_yaml(JOB, "churn", ALARMS))
    (tmp_path / "test.yml").write_text(
        yaml.safe_dump({"rule_files": ["rules.yml"], "evaluation_interval": "1m", "tests": tests})
    )
    result = subprocess.run(
        [promtool, "test", "rules", str(tmp_path / "test.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_drift_alerts_fire_on_the_shifted_feature_and_the_predictions(
    promtool: str, tmp_path: Path
) -> None:
    rules = yaml.safe_load(alert_rules_yaml(JOB, "churn", ALARMS))
    warn = {"severity": "warning"}
    series = [
        # tenure shifted: PSI 0.4, KS p-value 0.001; spend unchanged: PSI 0.02, p 0.6
        _series(Metric.DRIFT_SCORE, "0.4x40", feature="tenure"),
        _series(Metric.DRIFT_SCORE, "0.02x40", feature="spend"),
        _series(Metric.DRIFT_PVALUE, "0.001x40", feature="tenure", test="ks"),
        _series(Metric.DRIFT_PVALUE, "0.6x40", feature="spend", test="ks"),
        _series(Metric.PREDICTION_DRIFT_SCORE, "0.5x40"),
        _series(Metric.PREDICTION_DRIFT_PVALUE, "0.0001x40", test="chi2"),
    ]
    _run(
        promtool,
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": series,
                "alert_rule_test": [
                    _fires(
                        rules,
                        "InferstackInputDrift",
                        {**warn, "feature": "tenure", RETRAIN_LABEL: "drift"},
                    ),
                    _fires(
                        rules,
                        "InferstackInputDriftTest",
                        {**warn, "feature": "tenure", "test": "ks", RETRAIN_LABEL: "drift"},
                    ),
                    _fires(
                        rules,
                        "InferstackPredictionDrift",
                        {**warn, RETRAIN_LABEL: "prediction_drift"},
                    ),
                    _fires(
                        rules,
                        "InferstackPredictionDriftTest",
                        {**warn, "test": "chi2", RETRAIN_LABEL: "prediction_drift"},
                    ),
                    # the 15 minutes `for` have not passed yet
                    _quiet("InferstackInputDriftTest", "10m"),
                ],
            }
        ],
    )


def test_drift_alerts_stay_quiet_just_inside_the_levels(promtool: str, tmp_path: Path) -> None:
    series = [
        _series(Metric.DRIFT_SCORE, "0.25x40", feature="tenure"),  # equal is not above
        _series(Metric.DRIFT_PVALUE, "0.01x40", feature="tenure", test="ks"),  # nor below
        _series(Metric.PREDICTION_DRIFT_SCORE, "0.29x40"),
        _series(Metric.PREDICTION_DRIFT_PVALUE, "0.2x40", test="ks"),
    ]
    names = [
        "InferstackInputDrift",
        "InferstackInputDriftTest",
        "InferstackPredictionDrift",
        "InferstackPredictionDriftTest",
    ]
    _run(
        promtool,
        tmp_path,
        [{"interval": "1m", "input_series": series, "alert_rule_test": [_quiet(n) for n in names]}],
    )


def test_quality_alert_waits_for_enough_joined_outcomes(promtool: str, tmp_path: Path) -> None:
    rules = yaml.safe_load(alert_rules_yaml(JOB, "churn", ALARMS))
    labels = {"severity": "warning", **MV, RETRAIN_LABEL: "quality"}
    low = _series(Metric.QUALITY, "0.6x60", metric="auc")
    fine_other = _series(Metric.QUALITY, "0.95x60", metric="accuracy")  # not the alarm's metric
    # two workers' joined outcomes sum: 30 + 40 for 20 minutes, then 60 + 60
    few = [
        _series(Metric.QUALITY_SAMPLES, "30x20 60x40", pid="a"),
        _series(Metric.QUALITY_SAMPLES, "40x20 60x40", pid="b"),
    ]
    _run(
        promtool,
        tmp_path,
        [
            {
                "interval": "1m",
                "input_series": [low, fine_other, *few],
                "alert_rule_test": [
                    _quiet("InferstackLowQuality", "19m"),  # 70 outcomes: not yet
                    {**_fires(rules, "InferstackLowQuality", labels), "eval_time": "40m"},
                ],
            },
            {
                "interval": "1m",
                "input_series": [
                    _series(Metric.QUALITY, "0.7x60", metric="auc"),  # at the floor: fine
                    _series(Metric.QUALITY_SAMPLES, "500x60"),
                ],
                "alert_rule_test": [_quiet("InferstackLowQuality", "40m")],
            },
        ],
    )


def test_an_error_metric_alerts_above_its_ceiling() -> None:
    alarms = AlarmThresholds(quality_metric="rmse", quality_threshold=3.5, quality_min_samples=20)
    rules = yaml.safe_load(alert_rules_yaml(JOB, "churn", alarms))["groups"][0]["rules"]
    (quality,) = [r for r in rules if r["alert"] == "InferstackLowQuality"]
    assert f'{Metric.QUALITY}{{job="{JOB}",metric="rmse"}}) > 3.5' in quality["expr"]
    assert ">= 20" in quality["expr"]


def test_no_quality_alert_without_a_quality_metric() -> None:
    rules = yaml.safe_load(alert_rules_yaml(JOB, "churn", AlarmThresholds()))["groups"][0]["rules"]
    assert "InferstackLowQuality" not in {r["alert"] for r in rules}


def test_every_retrain_label_is_a_reason_of_the_event() -> None:
    rules = yaml.safe_load(alert_rules_yaml(JOB, "churn", ALARMS))["groups"][0]["rules"]
    reasons = {r["labels"][RETRAIN_LABEL] for r in rules if RETRAIN_LABEL in r["labels"]}
    assert reasons == set(RETRAIN_REASONS)
    latency = next(r for r in rules if r["alert"] == "InferstackHighP99Latency")
    assert RETRAIN_LABEL not in latency["labels"]
