"""Drift scores as CloudWatch embedded metric format (EMF) lines on stdout.

SageMaker ships a container's stdout to CloudWatch Logs, and CloudWatch turns an
EMF line (a JSON object with an ``_aws`` block) into metrics. With
``INFERSTACK_CLOUDWATCH_EMF=true`` the runtime prints one line per model at most
every ``INFERSTACK_CLOUDWATCH_EMF_INTERVAL_S`` seconds: ``DriftScore`` (the highest
feature's PSI) and ``DriftScore.<feature>`` per feature; where the drift report has
tests, ``DriftPValue`` (the smallest feature p-value, KS or chi-squared) and
``DriftPValue.<feature>``; and ``PredictionDriftScore`` (PSI of the predictions) with
``PredictionDriftPValue``; in namespace ``inferstack`` with dimensions ``EndpointName``
and ``VariantName``. PSI metrics are the first directive (as before the tests
existed), p-values and prediction drift a second, each within EMF's 100 metrics.
The loop runs as a background task, scores in a worker thread, and only logs its
failures. Live quality (``/feedback``) goes out the same way, as ``Quality.<metric>``
(``Quality.accuracy``, ``Quality.auc``, ``Quality.rmse``...) and ``QualitySamples``, on
the same namespace and dimensions, from its own loop (``QualityEmitter``).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import orjson

from inferstack.runtime.contract import (
    CLOUDWATCH_QUALITY_METRIC,
    CLOUDWATCH_QUALITY_SAMPLES_METRIC,
)
from inferstack.runtime.monitoring import DriftReport

log = logging.getLogger("inferstack.runtime")

NAMESPACE = "inferstack"
"""CloudWatch namespace of the runtime's metrics (the AWS alarms watch it)."""
DRIFT_METRIC = "DriftScore"
"""The highest per-feature drift score of a model."""
PVALUE_METRIC = "DriftPValue"
"""The smallest per-feature drift test p-value of a model."""
PREDICTION_METRIC = "PredictionDriftScore"
"""PSI of the model's recent predictions against the reference predictions."""
PREDICTION_PVALUE_METRIC = "PredictionDriftPValue"
"""p-value of the predictions' test (KS or chi-squared)."""
QUALITY_SAMPLES_METRIC = CLOUDWATCH_QUALITY_SAMPLES_METRIC
"""Joined outcomes the live quality metrics are over."""
MAX_METRICS = 100
"""EMF's limit on metrics per directive: DriftScore plus the 99 highest features."""
_MAX_NAME = 255  # CloudWatch's longest metric name


def drift_record(
    scores: dict[str, float],
    endpoint: str,
    variant: str,
    properties: dict[str, Any] | None = None,
    timestamp_ms: int | None = None,
    *,
    pvalues: dict[str, float] | None = None,
    prediction: tuple[float, float | None] | None = None,
) -> dict[str, Any]:
    """One EMF object on endpoint/variant for `scores` (feature -> PSI), `pvalues`
    (feature -> test p-value) and `prediction` (PSI and p-value); not all empty."""
    values: dict[str, float] = {}
    directives = []
    if scores:
        top = sorted(scores.items(), key=lambda item: item[1], reverse=True)[: MAX_METRICS - 1]
        psi = {DRIFT_METRIC: top[0][1]}
        psi |= {f"{DRIFT_METRIC}.{feature}"[:_MAX_NAME]: score for feature, score in top}
        directives.append(psi)
    tests: dict[str, float] = {}
    if prediction is not None:
        tests[PREDICTION_METRIC] = prediction[0]
        if prediction[1] is not None:
            tests[PREDICTION_PVALUE_METRIC] = prediction[1]
    if pvalues:
        low = sorted(pvalues.items(), key=lambda item: item[1])[: MAX_METRICS - 1 - len(tests)]
        tests[PVALUE_METRIC] = low[0][1]
        tests |= {f"{PVALUE_METRIC}.{feature}"[:_MAX_NAME]: p for feature, p in low}
    if tests:
        directives.append(tests)
    if not directives:
        raise ValueError("drift_record needs scores, p-values or prediction drift")
    for d in directives:
        values |= d
    return {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["EndpointName", "VariantName"]],
                    "Metrics": [{"Name": name, "Unit": "None"} for name in d],
                }
                for d in directives
            ],
        },
        **(properties or {}),
        "EndpointName": endpoint,
        "VariantName": variant,
        **values,
    }


def report_record(
    report: DriftReport,
    endpoint: str,
    variant: str,
    properties: dict[str, Any] | None = None,
    timestamp_ms: int | None = None,
) -> dict[str, Any] | None:
    """The EMF object of a drift report, or None when it holds nothing yet."""
    scores = {f: d.psi for f, d in report.features.items()}
    pvalues = {f: d.pvalue for f, d in report.features.items() if d.pvalue is not None}
    p = report.prediction
    if not scores and p is None:
        return None
    return drift_record(
        scores,
        endpoint,
        variant,
        properties,
        timestamp_ms,
        pvalues=pvalues,
        prediction=None if p is None else (p.psi, p.pvalue),
    )


def quality_record(
    values: dict[str, float],
    endpoint: str,
    variant: str,
    properties: dict[str, Any] | None = None,
    timestamp_ms: int | None = None,
    samples: int | None = None,
) -> dict[str, Any]:
    """One EMF object of live quality metrics (``Quality.<metric>``) on endpoint/variant."""
    if not values:
        raise ValueError("quality_record needs at least one metric")
    metrics = {CLOUDWATCH_QUALITY_METRIC.format(metric=m): v for m, v in sorted(values.items())}
    if samples is not None:
        metrics[QUALITY_SAMPLES_METRIC] = float(samples)
    return {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["EndpointName", "VariantName"]],
                    "Metrics": [{"Name": name, "Unit": "None"} for name in metrics],
                }
            ],
        },
        **(properties or {}),
        "EndpointName": endpoint,
        "VariantName": variant,
        **metrics,
    }


class DriftEmitter:
    """Prints `scores()` as an EMF line every `interval_s` while it has drift data.

    `scores` returns PSI per feature, or a whole ``DriftReport`` (p-values and
    prediction drift too).
    """

    def __init__(
        self,
        scores: Callable[[], dict[str, float] | DriftReport],
        endpoint: str,
        variant: str,
        interval_s: float,
        properties: dict[str, Any] | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.scores = scores
        self.endpoint = endpoint
        self.variant = variant
        self.interval_s = interval_s
        self.properties = properties or {}
        self.stream = stream
        self._task: asyncio.Task[None] | None = None

    def emit(self) -> bool:
        """Print one line now if there are scores; whether one was printed."""
        found = self.scores()
        if isinstance(found, DriftReport):
            record = report_record(found, self.endpoint, self.variant, self.properties)
        elif found:
            record = drift_record(found, self.endpoint, self.variant, self.properties)
        else:
            record = None
        if record is None:
            return False
        stream = self.stream or sys.stdout
        stream.write(orjson.dumps(record).decode() + "\n")
        stream.flush()
        return True

    def start(self) -> None:
        """Run the loop on the current event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Cancel the loop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await loop.run_in_executor(None, self.emit)
            except Exception:  # monitoring never breaks inference
                log.exception("cloudwatch emf emit failed")


class QualityEmitter(DriftEmitter):
    """Prints the live quality metrics and their sample count (``quality()``) as an EMF
    line every interval, once there are any."""

    def __init__(
        self,
        quality: Callable[[], tuple[dict[str, float], int]],
        endpoint: str,
        variant: str,
        interval_s: float,
        properties: dict[str, Any] | None = None,
        stream: TextIO | None = None,
    ) -> None:
        super().__init__(dict, endpoint, variant, interval_s, properties, stream)
        self.quality = quality

    def emit(self) -> bool:
        """Print one line now if there are quality metrics; whether one was printed."""
        values, samples = self.quality()
        if not values:
            return False
        record = quality_record(
            values, self.endpoint, self.variant, self.properties, samples=samples
        )
        stream = self.stream or sys.stdout
        stream.write(orjson.dumps(record).decode() + "\n")
        stream.flush()
        return True
