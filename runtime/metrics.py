"""Prometheus metrics; names are a contract with the dashboards and alert rules.

Every metric carries ``model`` and ``version`` labels; ``inferstack_model_info`` also
``framework`` and ``environment`` (``INFERSTACK_ENVIRONMENT``, empty when unset).
Label children are cached so a request costs a dict lookup, not a ``labels()`` call,
and the ones requests move are updated through ``fast_metrics`` (the same values, less
work per update).
With several worker processes ``PROMETHEUS_MULTIPROC_DIR`` is set by the server and
``/metrics`` aggregates them.
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from inferstack.runtime.contract import Metric
from inferstack.runtime.fast_metrics import fast

if TYPE_CHECKING:
    from inferstack.runtime.anomalies import Anomalies
    from inferstack.runtime.monitoring import DriftReport

DRAIN_REFUSED = Metric.DRAIN_REFUSED
"""Counter (``_total`` on the wire) of requests cut off by the bounded drain."""
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class Metrics:
    """The runtime's metric families for one served model."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(
        self, model: str, version: str, framework: str, environment: str | None = None
    ) -> None:
        self.registry = CollectorRegistry()
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        reg = None if self.multiprocess else self.registry
        mv = ["model", "version"]
        self.duration = Histogram(
            Metric.REQUEST_DURATION,
            "Request latency.",
            [*mv, "route", "code"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.requests = Counter(
            Metric.REQUESTS,
            "Requests by route and code.",
            [*mv, "route", "code"],
            registry=reg,
        )
        self.errors = Counter(
            Metric.ERRORS,
            "Error responses (4xx and 5xx).",
            [*mv, "route", "code"],
            registry=reg,
        )
        self.batch_size = fast(
            Histogram(
                Metric.BATCH_SIZE, "Rows per model call.", mv, buckets=BATCH_BUCKETS, registry=reg
            ).labels(model, version)
        )
        self.queue_depth = fast(
            Gauge(
                Metric.QUEUE_DEPTH,
                "Rows waiting for the model.",
                mv,
                multiprocess_mode="livesum",
                registry=reg,
            ).labels(model, version)
        )
        self.inflight = fast(
            Gauge(
                Metric.INFLIGHT,
                "Requests being handled.",
                mv,
                multiprocess_mode="livesum",
                registry=reg,
            ).labels(model, version)
        )
        self.load_seconds = Gauge(
            Metric.MODEL_LOAD_SECONDS,
            "Seconds the model took to load.",
            mv,
            multiprocess_mode="max",
            registry=reg,
        ).labels(model, version)
        self.info = Gauge(
            Metric.MODEL_INFO,
            "The served model (always 1).",
            [*mv, "framework", "environment"],
            multiprocess_mode="max",
            registry=reg,
        )
        self._info = (model, version, framework, environment or "")
        self.info.labels(*self._info).set(1)
        self.drift = Gauge(
            Metric.DRIFT_SCORE,
            "PSI of recent inputs against the reference profile.",
            [*mv, "feature"],
            multiprocess_mode="max",
            registry=reg,
        )
        self.drift_statistic = Gauge(
            Metric.DRIFT_STATISTIC,
            "Test statistic (ks or chi2) of recent inputs against the reference.",
            [*mv, "feature", "test"],
            multiprocess_mode="max",
            registry=reg,
        )
        self.drift_pvalue = Gauge(
            Metric.DRIFT_PVALUE,
            "p-value of the test (ks or chi2) of recent inputs against the reference.",
            [*mv, "feature", "test"],
            multiprocess_mode="min",
            registry=reg,
        )
        self.prediction_drift = Gauge(
            Metric.PREDICTION_DRIFT_SCORE,
            "PSI of recent predictions against the reference predictions.",
            mv,
            multiprocess_mode="max",
            registry=reg,
        )
        self.prediction_statistic = Gauge(
            Metric.PREDICTION_DRIFT_STATISTIC,
            "Test statistic (ks or chi2) of recent predictions against the reference.",
            [*mv, "test"],
            multiprocess_mode="max",
            registry=reg,
        )
        self.prediction_pvalue = Gauge(
            Metric.PREDICTION_DRIFT_PVALUE,
            "p-value of the test of recent predictions against the reference.",
            [*mv, "test"],
            multiprocess_mode="min",
            registry=reg,
        )
        self.drain_refused = Counter(
            DRAIN_REFUSED,
            "Requests answered 503 because the bounded SIGTERM drain ended first.",
            mv,
            registry=reg,
        ).labels(model, version)
        self.anomaly_checked = Counter(
            Metric.ANOMALY_CHECKED_VALUES,
            "Input values compared with the reference (check: range or category).",
            [*mv, "check"],
            registry=reg,
        )
        self.anomalous = Counter(
            Metric.ANOMALOUS_VALUES,
            "Input values outside the reference range or of a category it never held.",
            [*mv, "feature", "check"],
            registry=reg,
        )
        self.anomaly_requests = fast(
            Counter(
                Metric.ANOMALY_CHECKED_REQUESTS,
                "Requests whose inputs were compared with the reference.",
                mv,
                registry=reg,
            ).labels(model, version)
        )
        self.anomalous_requests = fast(
            Counter(
                Metric.ANOMALOUS_REQUESTS,
                "Requests holding at least one anomalous input value.",
                mv,
                registry=reg,
            ).labels(model, version)
        )
        self.step_duration = Histogram(
            Metric.STEP_DURATION,
            "Latency of each part of a composed model.",
            [*mv, "step"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.attribution = Gauge(
            Metric.ATTRIBUTION_MEAN_ABS,
            "Mean absolute attribution per feature over the last explained rows.",
            [*mv, "feature"],
            multiprocess_mode="max",
            registry=reg,
        )
        self.attribution_share = Gauge(
            Metric.ATTRIBUTION_SHARE,
            "A feature's share of the summed mean absolute attributions.",
            [*mv, "feature"],
            multiprocess_mode="max",
            registry=reg,
        )
        self.attribution_shift = Gauge(
            Metric.ATTRIBUTION_SHARE_SHIFT,
            "How far a feature's attribution share moved from its share on the reference.",
            [*mv, "feature"],
            multiprocess_mode="max",
            registry=reg,
        )
        self.capture_written = Counter(
            Metric.CAPTURE_WRITTEN,
            "Captured records the sink stored.",
            [*mv, "sink"],
            registry=reg,
        )
        self.capture_dropped = Counter(
            Metric.CAPTURE_DROPPED,
            "Captured records lost (reason: queue_full or sink_error).",
            [*mv, "sink", "reason"],
            registry=reg,
        )
        self.feedback_outcomes = Counter(
            Metric.FEEDBACK_OUTCOMES,
            "Outcomes posted to /feedback (result: joined, unknown, late, invalid).",
            [*mv, "result"],
            registry=reg,
        )
        self.quality = Gauge(
            Metric.QUALITY,
            "Live quality over the last joined outcomes of this process.",
            [*mv, "metric"],
            multiprocess_mode="livemax",
            registry=reg,
        )
        self.quality_samples = Gauge(
            Metric.QUALITY_SAMPLES,
            "Joined outcomes in the quality window.",
            mv,
            multiprocess_mode="livesum",
            registry=reg,
        ).labels(model, version)
        self._mv = (model, version)
        self._quality_published: set[str] = set()
        self._children: dict[tuple[str, int], tuple[Any, Any, Any]] = {}
        self._anomaly_children: dict[tuple[Any, ...], Any] = {}

    def observe_request(self, route: str, code: int, seconds: float) -> None:
        """Record one answered request."""
        child = self._children.get((route, code))
        if child is None:
            labels = (*self._mv, route, str(code))
            child = (
                fast(self.duration.labels(*labels)),
                fast(self.requests.labels(*labels)),
                fast(self.errors.labels(*labels)) if code >= 400 else None,
            )
            self._children[(route, code)] = child
        child[0].observe(seconds)
        child[1].inc()
        if child[2] is not None:
            child[2].inc()

    def set_drift(self, feature: str, score: float) -> None:
        """Publish one feature's drift score."""
        self.drift.labels(*self._mv, feature).set(score)

    def set_drift_report(self, report: DriftReport) -> None:
        """Publish a drift report: PSI, test statistics and p-values."""
        for feature, d in report.features.items():
            self.set_drift(feature, d.psi)
            if d.test is not None:
                self.drift_statistic.labels(*self._mv, feature, d.test).set(d.statistic)
                self.drift_pvalue.labels(*self._mv, feature, d.test).set(d.pvalue)
        p = report.prediction
        if p is not None:
            self.prediction_drift.labels(*self._mv).set(p.psi)
            if p.test is not None:
                self.prediction_statistic.labels(*self._mv, p.test).set(p.statistic)
                self.prediction_pvalue.labels(*self._mv, p.test).set(p.pvalue)

    def observe_anomalies(self, found: Anomalies) -> None:
        """Count one request's checked and anomalous input values."""
        self.anomaly_requests.inc()
        if found.range_checked:
            self._anomaly_child(self.anomaly_checked, "range").inc(found.range_checked)
        if found.category_checked:
            self._anomaly_child(self.anomaly_checked, "category").inc(found.category_checked)
        for feature, count in found.out_of_range.items():
            self._anomaly_child(self.anomalous, feature, "range").inc(count)
        for feature, count in found.unseen.items():
            self._anomaly_child(self.anomalous, feature, "category").inc(count)
        if found.anomalous:
            self.anomalous_requests.inc()

    def _anomaly_child(self, family: Counter, *labels: str) -> Any:
        """The cached child of an anomaly counter (a dict lookup, not ``labels()``)."""
        key = (family, *labels)
        child = self._anomaly_children.get(key)
        if child is None:
            child = self._anomaly_children[key] = fast(family.labels(*self._mv, *labels))
        return child

    def observe_step(self, step: str, seconds: float) -> None:
        """Record one part's latency in a composed model."""
        self.step_duration.labels(*self._mv, step).observe(seconds)

    def set_attributions(self, means: dict[str, float], shares: dict[str, float]) -> None:
        """Publish mean absolute attributions and their shares per feature."""
        for feature, value in means.items():
            self.attribution.labels(*self._mv, feature).set(value)
            self.attribution_share.labels(*self._mv, feature).set(shares.get(feature, 0.0))

    def set_attribution_shift(self, shift: dict[str, float]) -> None:
        """Publish each feature's attribution share shift from the reference."""
        for feature, value in shift.items():
            self.attribution_shift.labels(*self._mv, feature).set(value)

    def capture_counters(self, sink: str) -> tuple[Any, Any]:
        """``(written(n), dropped(reason, n))`` callbacks for one capture sink's queue."""
        written = self.capture_written.labels(*self._mv, sink)

        def dropped(reason: str, count: int) -> None:
            self.capture_dropped.labels(*self._mv, sink, reason).inc(count)

        return written.inc, dropped

    def count_outcomes(self, counts: dict[str, int]) -> None:
        """Count one /feedback request's outcomes by result."""
        for result, count in counts.items():
            if count:
                self.feedback_outcomes.labels(*self._mv, result).inc(count)

    def set_quality(self, values: dict[str, float], samples: int) -> None:
        """Publish the live quality metrics and the size of their window. A metric
        published before and not computed now (AUC once the window holds one class) is
        withdrawn, so that no alarm reads its old value as current."""
        for metric in self._quality_published - values.keys():
            if self.multiprocess:  # prometheus_client cannot remove a series there
                self.quality.labels(*self._mv, metric).set(math.nan)
            else:
                self.quality.remove(*self._mv, metric)
        for metric, value in values.items():
            self.quality.labels(*self._mv, metric).set(value)
        self._quality_published = set(values)
        self.quality_samples.set(samples)

    def exposition(self) -> bytes:
        """The text format served on ``/metrics``."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
