"""Online drift scores and sampled data capture; failures here never reach a request.

Drift is the population stability index (PSI) of recent inputs against the bundle's
reference profile, per feature: ``sum((a - e) * ln(a / e))`` over the profile's bins,
``e`` the reference fractions and ``a`` the live fractions. Live counts decay (halve)
every ``window`` rows so the score follows recent traffic. Rules of thumb: < 0.1
stable, 0.1-0.25 moderate shift, > 0.25 major shift.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from inferstack.runtime.manifest import FeatureProfile

log = logging.getLogger("inferstack.runtime")
_EPS = 1e-4


def profile(x: np.ndarray, names: list[str], bins: int = 10) -> dict[str, FeatureProfile]:
    """A reference profile of numeric data ``x`` (rows x features): quantile bins per feature."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    out: dict[str, FeatureProfile] = {}
    qs = np.linspace(0, 1, bins + 1)[1:-1]
    for j, name in enumerate(names):
        col = x[:, j][np.isfinite(x[:, j])]
        if col.size == 0:
            continue
        edges = np.unique(np.quantile(col, qs))
        counts = np.bincount(np.searchsorted(edges, col, side="right"), minlength=len(edges) + 1)
        fractions = counts / counts.sum()
        out[name] = FeatureProfile(edges=tuple(edges.tolist()), fractions=tuple(fractions.tolist()))
    return out


def psi(actual: np.ndarray, expected: np.ndarray) -> float:
    """Population stability index of two fraction vectors."""
    a = np.clip(actual, _EPS, None)
    e = np.clip(expected, _EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


class DriftMonitor:
    """Bins live rows against a reference profile and scores the shift per feature.

    Batches are buffered and binned together (all features in a few numpy calls) once
    ``flush_rows`` rows are waiting or a score is asked for, so single-row traffic
    does not pay a per-feature cost on every model call.
    """

    def __init__(
        self,
        reference: dict[str, FeatureProfile],
        names: list[str],
        window: int = 10_000,
        min_rows: int = 100,
        flush_rows: int = 1024,
    ) -> None:
        self.features = [f for f in names if f in reference]
        self.cols = np.asarray([names.index(f) for f in self.features], dtype=np.intp)
        edges = [np.asarray(reference[f].edges, dtype=np.float64) for f in self.features]
        width = max((len(e) for e in edges), default=0)
        # one row of edges per feature, padded with +inf (never <= a finite value)
        self.edges = np.full((len(edges), width), np.inf)
        for k, e in enumerate(edges):
            self.edges[k, : len(e)] = e
        self.bins = width + 1
        self.expected = [np.asarray(reference[f].fractions) for f in self.features]
        self.sizes = [len(e) + 1 for e in edges]
        self.counts = np.zeros((len(edges), self.bins))
        self.offsets = np.arange(len(edges), dtype=np.intp) * self.bins
        self.total = 0.0
        self.window = window
        self.min_rows = min_rows
        self.flush_rows = flush_rows
        self._pending: list[np.ndarray] = []
        self._pending_rows = 0
        self._lock = threading.Lock()

    def update(self, x: np.ndarray) -> None:
        """Count a batch of rows (numeric features only)."""
        if x.dtype.kind not in "fiub" or not len(self.features):
            return
        with self._lock:
            self._pending.append(x.reshape(len(x), -1)[:, self.cols])
            self._pending_rows += len(x)
            if self._pending_rows >= self.flush_rows:
                self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        values = np.concatenate(self._pending).astype(np.float64, copy=False)
        self._pending, self._pending_rows = [], 0
        # bin index = number of edges <= value (searchsorted side="right"), per feature
        idx = (values[:, :, None] >= self.edges[None, :, :]).sum(axis=2) + self.offsets
        self.counts += np.bincount(idx.ravel(), minlength=self.counts.size).reshape(
            self.counts.shape
        )
        self.total += len(values)
        if self.total >= 2 * self.window:
            self.counts /= 2
            self.total /= 2

    def scores(self) -> dict[str, float]:
        """PSI per feature, once enough rows were seen."""
        with self._lock:
            self._flush()
            if self.total < self.min_rows:
                return {}
            return {
                f: psi(self.counts[k, : self.sizes[k]] / self.total, self.expected[k])
                for k, f in enumerate(self.features)
            }


class Capture:
    """Appends sampled requests (inputs and outputs) as JSON lines under ``directory``."""

    def __init__(self, directory: str | Path, sample_rate: float, model: str, version: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sample_rate = sample_rate
        self.model = model
        self.version = version
        self._lock = threading.Lock()

    def sample(self) -> bool:
        """Whether to capture the next request."""
        return self.sample_rate > 0 and random.random() < self.sample_rate  # noqa: S311

    @property
    def path(self) -> Path:
        """Today's file for this process."""
        day = time.strftime("%Y%m%d", time.gmtime())
        return self.directory / f"{self.model}-{self.version}-{day}-{os.getpid()}.jsonl"

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append records, one JSON object per line."""
        data = b"".join(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n" for r in records)
        with self._lock, self.path.open("ab") as fh:
            fh.write(data)


class Observer:
    """The batcher's ``on_batch`` hook: feeds drift and capture."""

    def __init__(self, drift: DriftMonitor | None, capture: Capture | None) -> None:
        self.drift = drift
        self.capture = capture

    def __call__(self, x: np.ndarray, parts: list[Any], metas: list[Any]) -> None:
        if self.drift is not None:
            self.drift.update(x)
        if self.capture is not None:
            records = [
                {
                    "ts": time.time(),
                    "model": self.capture.model,
                    "version": self.capture.version,
                    "id": meta["id"],
                    "route": meta["route"],
                    "inputs": _plain(meta["x"]),
                    "outputs": _plain(part),
                }
                for meta, part in zip(metas, parts, strict=True)
                if meta is not None
            ]
            if records:
                self.capture.write(records)


def _plain(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value
