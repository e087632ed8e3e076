"""What the drift report holds: per feature (and for the predictions) the statistics,
the bins with their reference and live shares and a verdict, plus the capture's
counts (objects, records, rows read, scored, skipped by reason). ``to_json`` is the
report's JSON; ``html_report`` renders the same numbers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from inferstack.components.monitoring.accumulate import RESERVOIR_ROWS
from inferstack.runtime.drift_stats import Drift

__all__ = ["PREDICTION", "Bin", "DriftResult", "Report", "Thresholds"]

PREDICTION = "(prediction)"
"""The name the predictions' result goes by."""


@dataclass(frozen=True)
class Thresholds:
    """When a feature (or the predictions) is reported as drifted."""

    psi: float = 0.2
    pvalue: float = 0.01
    prediction_psi: float = 0.2


@dataclass(frozen=True)
class Bin:
    """One bin or category: its share of the reference and of the live rows."""

    label: str
    reference: float
    live: float


@dataclass(frozen=True)
class DriftResult:
    """One feature's (or the predictions') drift over the whole capture."""

    name: str
    kind: str
    """``numeric`` or ``categorical``."""
    drift: Drift
    bins: tuple[Bin, ...]
    verdict: str
    """``drift``, ``stable`` or ``no data``."""
    psi_threshold: float
    """The PSI at which this feature (or the predictions) counts as drifted."""

    def to_json(self) -> dict[str, Any]:
        d = self.drift
        return {
            "name": self.name,
            "kind": self.kind,
            "verdict": self.verdict,
            "psi_threshold": self.psi_threshold,
            "rows": d.rows,
            "psi": d.psi,
            "test": d.test,
            "statistic": d.statistic,
            "pvalue": d.pvalue,
            "bins": [
                {"label": b.label, "reference": b.reference, "live": b.live} for b in self.bins
            ],
        }


@dataclass
class Report:
    """Everything the HTML and JSON reports show."""

    capture: str
    model: str
    version: str
    thresholds: Thresholds
    features: list[DriftResult] = field(default_factory=list)
    prediction: DriftResult | None = None
    objects: int = 0
    records: int = 0
    rows_read: int = 0
    rows_scored: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    """Rows (or whole records) not scored, by reason."""
    filtered: Counter[str] = field(default_factory=Counter)
    """Records left out by --since, --until or --version, by filter."""
    ignored: Counter[str] = field(default_factory=Counter)
    """Records of other kinds (feedback), by kind."""
    first_ts: float | None = None
    last_ts: float | None = None
    formats: Counter[str] = field(default_factory=Counter)

    @property
    def drifted(self) -> list[str]:
        """Names of the drifted features, most drifted first."""
        return [f.name for f in self.features if f.verdict == "drift"]

    def to_json(self) -> dict[str, Any]:
        t = self.thresholds
        return {
            "capture": self.capture,
            "bundle": {"model": self.model, "version": self.version},
            "time_range": {"first": _iso(self.first_ts), "last": _iso(self.last_ts)},
            "objects": self.objects,
            "records": self.records,
            "record_formats": dict(self.formats),
            "rows": {
                "read": self.rows_read,
                "scored": self.rows_scored,
                "skipped": sum(self.skipped.values()),
            },
            "skipped": dict(self.skipped.most_common()),
            "filtered": dict(self.filtered.most_common()),
            "ignored": dict(self.ignored.most_common()),
            "thresholds": {"psi": t.psi, "pvalue": t.pvalue, "prediction_psi": t.prediction_psi},
            "ks_sample_rows": RESERVOIR_ROWS,
            "drifted": self.drifted,
            "features": [f.to_json() for f in self.features],
            "prediction": self.prediction.to_json() if self.prediction else None,
        }


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()
