"""The spec's drift, quality and retraining settings: defaults, ranges and pairs."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from inferstack.components.spec.models import (
    AlarmThresholds,
    ObservabilitySpec,
    QualityMetric,
    RetrainingSpec,
)
from inferstack.runtime.contract import QUALITY_HIGHER_IS_BETTER, QUALITY_METRICS


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
