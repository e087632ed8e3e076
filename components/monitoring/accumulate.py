"""Streaming per-feature counts for the drift report, in memory bounded by the profile.

Numeric values are binned on the reference profile's edges as they arrive (the PSI
needs only the counts) and kept in a reservoir sample for the KS test: Vitter's
algorithm R with ``RESERVOIR_ROWS`` slots and a ``numpy`` generator seeded with
``SEED``, so the same capture always gives the same report. Up to ``RESERVOIR_ROWS``
values the sample is every value and the KS test is exactly the runtime's on the same
rows; beyond, it is the test on a uniform sample of them. Categorical values are
counted per reference category plus one bin of other values. The statistics are the
runtime's own (``inferstack.runtime.drift_stats``).
"""

from __future__ import annotations

import numpy as np

from inferstack.runtime.drift_stats import (
    Drift,
    category_counts,
    chi_squared,
    expected_fractions,
    numeric_drift,
    psi,
    scipy_stats,
)
from inferstack.runtime.manifest import FeatureProfile

__all__ = ["RESERVOIR_ROWS", "SEED", "CategoricalCounts", "NumericCounts"]

RESERVOIR_ROWS = 20_000
SEED = 0


class NumericCounts:
    """Bin counts on a numeric profile's edges and a seeded reservoir of the values."""

    def __init__(self, profile: FeatureProfile, capacity: int = RESERVOIR_ROWS) -> None:
        self.profile = profile
        self.edges = np.asarray(profile.edges, dtype=np.float64)
        self.counts = np.zeros(len(self.edges) + 1, dtype=np.int64)
        self.capacity = capacity
        self.sample = np.empty(capacity, dtype=np.float64)
        self.seen = 0
        self._rng = np.random.default_rng(SEED)

    def add(self, values: np.ndarray) -> None:
        """Count finite ``values`` (float64)."""
        values = values[np.isfinite(values)]
        bins = np.searchsorted(self.edges, values, side="right")
        self.counts += np.bincount(bins, minlength=len(self.counts))
        free = max(0, min(self.capacity - self.seen, len(values)))
        self.sample[self.seen : self.seen + free] = values[:free]
        self.seen += free
        for v in values[free:]:  # algorithm R: the i-th value takes a slot with p = capacity / i
            j = int(self._rng.integers(0, self.seen + 1))
            if j < self.capacity:
                self.sample[j] = v
            self.seen += 1

    @property
    def rows(self) -> int:
        return int(self.counts.sum())

    def live_fractions(self) -> np.ndarray:
        return self.counts / max(self.rows, 1)

    def drift(self, reference_sample: np.ndarray | None) -> Drift:
        """PSI over every value's bin; KS of the reservoir against the reference sample."""
        kept = self.sample[: min(self.seen, self.capacity)]
        tested = numeric_drift(kept, self.profile, reference_sample)
        score = psi(self.live_fractions(), np.asarray(self.profile.fractions))
        return Drift(score, self.rows, tested.test, tested.statistic, tested.pvalue)


class CategoricalCounts:
    """Counts of a categorical profile's categories, then of other values."""

    def __init__(self, profile: FeatureProfile) -> None:
        self.profile = profile
        self.counts = np.zeros(len(profile.categories or ()) + 1, dtype=np.int64)

    def add(self, labels: np.ndarray) -> None:
        """Count string ``labels``."""
        self.counts += category_counts(labels, self.profile)

    @property
    def rows(self) -> int:
        return int(self.counts.sum())

    def live_fractions(self) -> np.ndarray:
        return self.counts / max(self.rows, 1)

    def drift(self) -> Drift:
        """PSI and the chi-squared test of the counts, as ``categorical_drift`` computes."""
        expected = expected_fractions(self.profile)
        score = psi(self.live_fractions(), expected)
        stats = scipy_stats()
        if stats is None or not self.rows:
            return Drift(score, self.rows)
        return Drift(score, self.rows, "chi2", *chi_squared(stats, self.counts, expected))
