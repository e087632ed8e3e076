"""Online drift statistics over a bounded window; failures here never reach a request.

``DriftMonitor`` keeps the last ``window`` rows of each profiled feature (and of the
model's predictions) in a ring allocated once: the model thread only copies a batch's
columns in, so memory is constant and the request path pays no binning. Under heavy
traffic the window is a sample: within each second the first ``2 * window`` rows are
kept and later batches of that second are skipped (counted in ``skipped_rows``), so the
copying costs at most that many rows per second however many arrive; below that rate
the window is exactly the last ``window`` rows. Statistics are
computed when asked (on a ``/metrics`` scrape or the CloudWatch emitter's tick), at
most once per ``period_s``, over the window: per feature PSI
``sum((a - e) * ln(a / e))`` over the profile's bins (rules of thumb: < 0.1 stable,
0.1-0.25 moderate shift, > 0.25 major shift), and a test with its p-value, KS for
numeric and chi-squared for categorical features (see ``drift_stats``). The KS tests'
reference values are read from the bundle's samples file on the first report.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from inferstack.runtime.drift_stats import Drift, categorical_drift, numeric_drift, psi
from inferstack.runtime.manifest import FeatureProfile, OutputSchema
from inferstack.runtime.reference import category_labels, numeric_profile, prediction_values
from inferstack.runtime.reference_samples import ReferenceSamples, read_samples

__all__ = ["DriftMonitor", "DriftReport", "profile", "psi"]

log = logging.getLogger("inferstack.runtime")


def profile(x: np.ndarray, names: list[str], bins: int = 10) -> dict[str, FeatureProfile]:
    """A reference profile of numeric data ``x`` (rows x features): quantile bins per feature."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    out: dict[str, FeatureProfile] = {}
    for j, name in enumerate(names):
        p = numeric_profile(x[:, j], bins)
        if p is not None:
            out[name] = p
    return out


@dataclass(frozen=True)
class DriftReport:
    """Drift per feature and of the predictions over the current window."""

    features: dict[str, Drift] = field(default_factory=dict)
    prediction: Drift | None = None


class _Window:
    """The last ``size`` rows appended, in a ring preallocated on the first append.

    An append copies the rows into the ring (one copy, no allocation), so a window
    never holds a reference to a request's buffer; rows of another dtype or row shape
    than the ring's start a new ring.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.rows = 0  # rows held, at most ``size``
        self._ring: np.ndarray | None = None
        self._next = 0  # where the next row goes

    def append(self, values: np.ndarray) -> None:
        n = len(values)
        if n > self.size:
            values, n = values[-self.size :], self.size
        ring = self._ring
        if ring is None or ring.dtype != values.dtype or ring.shape[1:] != values.shape[1:]:
            ring = self._ring = np.empty((self.size, *values.shape[1:]), dtype=values.dtype)
            self.rows = self._next = 0
        start, end = self._next, self._next + n
        if end < self.size:
            ring[start:end] = values
            self._next = end
        else:  # wraps around (or ends exactly at the ring's end)
            first = self.size - start
            ring[start:] = values[:first]
            ring[: n - first] = values[first:]
            self._next = n - first
        if self.rows < self.size:
            self.rows = min(self.rows + n, self.size)

    def values(self) -> np.ndarray | None:
        """The rows held, oldest first (a copy)."""
        ring = self._ring
        if ring is None or not self.rows:
            return None
        if self.rows < self.size:
            return ring[: self.rows].copy()
        return np.concatenate([ring[self._next :], ring[: self._next]])


class DriftMonitor:
    """Drift of live rows (and predictions) against the bundle's reference profiles.

    ``update`` is called by the model thread with each batch and its outputs;
    ``report`` computes the statistics over the last ``window`` rows once at least
    ``min_rows`` were seen, reusing the last report for ``period_s`` seconds.
    """

    def __init__(
        self,
        reference: dict[str, FeatureProfile],
        names: list[str],
        window: int = 10_000,
        min_rows: int = 100,
        period_s: float = 0.0,
        dtypes: list[str] | None = None,
        prediction: FeatureProfile | None = None,
        output: OutputSchema | None = None,
        samples: Path | None = None,
    ) -> None:
        self.features = [f for f in names if f in reference]
        self.cols = np.asarray([names.index(f) for f in self.features], dtype=np.intp)
        # None: no profiled feature; True: every column in order, kept without a gather
        self._all_columns = (
            None if not self.features else bool(np.array_equal(self.cols, np.arange(len(names))))
        )
        self.profiles = [reference[f] for f in self.features]
        kinds = dict(zip(names, dtypes or [], strict=False))
        self.booleans = [kinds.get(f) == "bool" for f in self.features]
        self.prediction = prediction if output is not None else None
        self.output = output or OutputSchema()
        self.window = window
        self.min_rows = min_rows
        self.period_s = period_s
        self.budget = 2 * window  # rows kept per second; more are skipped
        self.skipped_rows = 0
        self._second = -1.0
        self._kept = 0
        self._inputs = _Window(window)
        self._outputs = _Window(window)
        self._lock = threading.Lock()
        self._report = DriftReport()
        self._at = -float("inf")
        self._samples_path = samples
        self._samples: ReferenceSamples | None = None

    def samples(self) -> ReferenceSamples:
        """The reference samples, read on first use (none if the file is unreadable)."""
        if self._samples is None:
            found = ReferenceSamples()
            if self._samples_path is not None:
                try:
                    found = read_samples(self._samples_path)
                except Exception:  # monitoring never breaks inference: PSI still runs
                    log.exception("reference samples unreadable; drift without KS tests")
            self._samples = found
        return self._samples

    def update(self, x: np.ndarray, out: Any = None) -> None:
        """Keep a batch's profiled columns (and its outputs) in the window."""
        second = time.monotonic() // 1
        if second != self._second:
            self._second, self._kept = second, 0
        if self._kept >= self.budget:  # this second's share is in: a sample suffices
            self.skipped_rows += len(x)
            return
        self._kept += len(x)
        cols = None
        if self._all_columns is not None and x.ndim >= 1 and len(x):
            cols = x.reshape(len(x), -1)
            if not self._all_columns:  # a copy of the profiled columns; else the ring copies
                cols = cols[:, self.cols]
        outputs = np.asarray(out) if self.prediction is not None and out is not None else None
        with self._lock:
            if cols is not None:
                self._inputs.append(cols)
            if outputs is not None:
                self._outputs.append(outputs)

    def report(self) -> DriftReport:
        """The statistics over the window (cached for ``period_s``)."""
        now = time.monotonic()
        if now - self._at < self.period_s:
            return self._report
        with self._lock:
            inputs, outputs = self._inputs.values(), self._outputs.values()
        report = DriftReport(self._feature_drift(inputs), self._prediction_drift(outputs))
        self._report, self._at = report, now
        return report

    def scores(self) -> dict[str, float]:
        """PSI per feature, once enough rows were seen."""
        return {f: d.psi for f, d in self.report().features.items()}

    def _feature_drift(self, values: np.ndarray | None) -> dict[str, Drift]:
        if values is None or len(values) < self.min_rows:
            return {}
        out = {}
        for k, (name, ref) in enumerate(zip(self.features, self.profiles, strict=True)):
            col = values[:, k]
            if ref.categories is not None:
                if self.booleans[k]:
                    col = col.astype(bool)
                out[name] = categorical_drift(category_labels(col), ref)
            else:
                col = col.astype(np.float64)
                sample = self.samples().features.get(name)
                out[name] = numeric_drift(col[np.isfinite(col)], ref, sample)
        return out

    def _prediction_drift(self, out: np.ndarray | None) -> Drift | None:
        ref = self.prediction
        if ref is None or out is None or len(out) < self.min_rows:
            return None
        found = prediction_values(out, self.output)
        if found is None:
            return None
        values, categorical = found
        if categorical:
            return categorical_drift(values, ref) if ref.categories is not None else None
        values = values[np.isfinite(values)]
        if ref.categories is not None:
            return None
        return numeric_drift(values, ref, self.samples().prediction)
