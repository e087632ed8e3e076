"""The spec's drift, quality and retraining settings: defaults, ranges and pairs."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from inferstack.components.monitoring.quality_check import quality_metric_problem
from inferstack.components.spec.models import (
    AlarmThresholds,
    DeploymentSpec,
    ObservabilitySpec,
    QualityMetric,
    RetrainingSpec,
)
from inferstack.runtime.contract import QUALITY_HIGHER_IS_BETTER, QUALITY_METRICS
from tests.conftest import ROOT


def test_quality_metrics_are_the_runtimes() -> None:
    assert get_args(QualityMetric) == QUALITY_METRICS


def test_defaults_alarm_on_drift_only_and_retrain_nowhere() -> None:
    alarms, retraining = AlarmThresholds(), ObservabilitySpec().retraining
    assert (alarms.drift_score, alarms.drift_pvalue, alarms.prediction_drift_score) == (
        0.2,
        0.01,
        0.2,
    )
    assert alarms.quality_metric is None
    assert not retraining.enabled


@pytest.mark.parametrize("metric", QUALITY_METRICS)
def test_floor_or_ceiling_by_metric(metric: str) -> None:
    alarms = AlarmThresholds(quality_metric=metric, quality_threshold=0.5)
    assert alarms.quality_floor == (metric in QUALITY_HIGHER_IS_BETTER)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"quality_metric": "auc"}, "quality_metric and quality_threshold go together"),
        ({"quality_threshold": 0.8}, "quality_metric and quality_threshold go together"),
        ({"quality_metric": "accuracy", "quality_threshold": 1.2}, "floor in (0, 1]"),
        ({"quality_metric": "auc", "quality_threshold": 0}, "floor in (0, 1]"),
        ({"quality_metric": "rmse", "quality_threshold": 0}, "ceiling above 0"),
        ({"quality_metric": "f1", "quality_threshold": 0.5}, "quality_metric"),
        ({"drift_pvalue": 1}, "drift_pvalue"),
        ({"drift_pvalue": 0}, "drift_pvalue"),
        ({"prediction_drift_score": 0}, "prediction_drift_score"),
        ({"quality_min_samples": 0}, "quality_min_samples"),
    ],
)
def test_bad_thresholds_are_refused_naming_the_problem(
    changes: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        AlarmThresholds.model_validate(changes)
    assert message in str(err.value)


def test_retraining_secrets_are_config_key_names() -> None:
    hook = RetrainingSpec(webhook_url_secret="ci:retrainUrl", webhook_auth_secret="retrainAuth")
    assert hook.enabled
    with pytest.raises(ValidationError, match="webhook_url_secret"):
        RetrainingSpec(webhook_url_secret="https://api.github.com/repos/a/b/dispatches")
    with pytest.raises(ValidationError, match="webhook_auth_secret needs webhook_url_secret"):
        RetrainingSpec(webhook_auth_secret="retrainAuth")
    with pytest.raises(ValidationError, match="Extra inputs"):
        RetrainingSpec.model_validate({"webhook_url": "https://example.com"})


def _spec(artifact: str, metric: str, level: float) -> DeploymentSpec:
    return DeploymentSpec.model_validate(
        {
            "target": "local",
            "gateway": {"tls": False},
            "model": {
                "name": "m",
                "version": "1.0.0",
                "framework": "sklearn",
                "artifact": artifact,
            },
            "observability": {"alarms": {"quality_metric": metric, "quality_threshold": level}},
        }
    )


def test_a_quality_metric_the_local_bundle_cannot_export_is_named() -> None:
    bundle = str(ROOT / "examples" / "logreg-20f" / "bundle")  # a classifier's probabilities
    assert quality_metric_problem(_spec(bundle, "auc", 0.7)) is None
    problem = quality_metric_problem(_spec(bundle, "rmse", 3.0))
    assert problem is not None
    assert "quality_metric" in problem
    assert "'probabilities'" in problem
    assert "accuracy, auc, precision, recall" in problem


def test_remote_artifacts_are_not_checked() -> None:
    assert quality_metric_problem(_spec("s3://models/m/1.0.0", "rmse", 3.0)) is None


def test_deploying_refuses_a_quality_metric_the_bundle_cannot_export() -> None:
    from inferstack.components.errors import SpecError
    from inferstack.components.spec.config import check_local_bundle

    bundle = str(ROOT / "examples" / "logreg-20f" / "bundle")
    check_local_bundle(_spec(bundle, "auc", 0.7))
    with pytest.raises(SpecError, match="quality_metric: the bundle's outputs are 'probabilities'"):
        check_local_bundle(_spec(bundle, "rmse", 3.0))
