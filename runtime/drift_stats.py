"""Drift statistics of one live window against a reference profile.

PSI for every feature; the two-sample Kolmogorov-Smirnov test (``scipy.stats.ks_2samp``
against the bundle's reference sample) for numeric ones and Pearson's chi-squared test
(``scipy.stats.chisquare``) for categorical ones. Categorical counts are the
profile's categories plus one bin of other values; the chi-squared test takes the
other bin only when the window holds such values, and expected counts are the
reference fractions floored at 1e-4, renormalised, times the window's rows. scipy is
imported on first use; without it the tests are off (one log line) and PSI remains.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from inferstack.runtime.manifest import FeatureProfile

log = logging.getLogger("inferstack.runtime")
EPS = 1e-4


@dataclass(frozen=True)
class Drift:
    """One feature's (or the predictions') drift over a window."""

    psi: float
    rows: int
    test: str | None = None
    """``ks`` or ``chi2``; None without a reference sample or scipy."""
    statistic: float | None = None
    pvalue: float | None = None


@functools.cache
def scipy_stats() -> Any:
    """``scipy.stats``, or None (logged once) when scipy is not installed."""
    try:
        from scipy import stats
    except ImportError:
        log.warning("scipy is not installed: drift tests (KS, chi-squared) are off, PSI only")
        return None
    return stats


def psi(actual: np.ndarray, expected: np.ndarray) -> float:
    """Population stability index of two fraction vectors."""
    a = np.clip(actual, EPS, None)
    e = np.clip(expected, EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def expected_fractions(ref: FeatureProfile) -> np.ndarray:
    """A categorical profile's fractions with the share of other values appended."""
    f = np.asarray(ref.fractions, dtype=np.float64)
    return np.append(f, max(0.0, 1.0 - float(f.sum())))


def category_counts(values: np.ndarray, ref: FeatureProfile) -> np.ndarray:
    """Counts of each of the profile's categories, then of other values."""
    cats = list(ref.categories or ())
    index = {c: i for i, c in enumerate(cats)}
    codes = np.fromiter((index.get(v, len(cats)) for v in values), np.intp, len(values))
    return np.bincount(codes, minlength=len(cats) + 1)


def numeric_drift(
    values: np.ndarray, ref: FeatureProfile, sample: np.ndarray | None = None
) -> Drift:
    """PSI over the profile's bins and KS against the reference ``sample``, of finite ``values``."""
    edges = np.asarray(ref.edges, dtype=np.float64)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    score = psi(counts / max(len(values), 1), np.asarray(ref.fractions))
    stats = scipy_stats() if sample is not None and len(sample) else None
    if stats is None or not len(values):
        return Drift(score, len(values))
    res = stats.ks_2samp(values, sample)
    return Drift(score, len(values), "ks", float(res.statistic), float(res.pvalue))


def categorical_drift(values: np.ndarray, ref: FeatureProfile) -> Drift:
    """PSI and the chi-squared test of category counts (``values`` are strings)."""
    observed = category_counts(values, ref)
    expected = expected_fractions(ref)
    n = int(observed.sum())
    score = psi(observed / max(n, 1), expected)
    stats = scipy_stats()
    if stats is None or not n:
        return Drift(score, n)
    return Drift(score, n, "chi2", *chi_squared(stats, observed, expected))


def chi_squared(stats: Any, observed: np.ndarray, expected: np.ndarray) -> tuple[float, float]:
    """Statistic and p-value of ``observed`` counts against ``expected`` fractions."""
    if observed[-1] == 0:  # no value outside the reference categories: no other bin
        observed, expected = observed[:-1], expected[:-1]
    exp = np.clip(expected, EPS, None)
    exp = exp / exp.sum() * observed.sum()
    res = stats.chisquare(observed, exp)
    return float(res.statistic), float(res.pvalue)
