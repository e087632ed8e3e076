"""The A/B readout's statistics, as plain functions over counts and samples.

Rates (error rate, a binary outcome) use the two-proportion z test; continuous metrics
(latency, a numeric outcome) use Welch's t test, or Mann-Whitney U where the data are
skewed. Every result names its test, gives the difference B - A with a confidence
interval, the p-value, the minimum detectable effect at the current sample sizes and
whether there is enough data yet to read it at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import optimize, stats

ALPHA = 0.05
POWER = 0.8
MIN_SAMPLES = 30
"""Fewest observations per variant before a continuous metric is read."""
MIN_EVENTS = 10
"""Fewest successes and failures per variant before a rate is read (the normal
approximation behind the z test needs both)."""


@dataclass(frozen=True)
class Comparison:
    """Variant B against variant A on one metric."""

    test: str
    """The test used: two-proportion z, Welch's t or Mann-Whitney U."""
    a: float
    """A's estimate (rate, mean or median)."""
    b: float
    """B's estimate."""
    difference: float
    """b - a."""
    ci_low: float | None
    """Lower end of the confidence interval of the difference (None without data)."""
    ci_high: float | None
    p_value: float | None
    mde: float | None
    """Smallest absolute difference detectable at `power` with the current sizes."""
    n_a: int
    n_b: int
    enough_data: bool
    """False while either variant has too few observations; the test is then not run."""
    note: str = ""
    """Why there is not enough data, or empty."""
    alpha: float = ALPHA

    @property
    def significant(self) -> bool:
        """Whether the difference is significant at `alpha` (never without enough data)."""
        return self.enough_data and self.p_value is not None and self.p_value < self.alpha

    def as_json(self) -> dict[str, Any]:
        """The comparison as JSON-ready data, `significant` included."""
        return {**asdict(self), "significant": self.significant}


def _z(alpha: float, power: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))


def _check(alpha: float, power: float) -> None:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must lie in (0, 1), got {alpha} and {power}")


def mde_proportions(
    p: float, n_a: int, n_b: int, alpha: float = ALPHA, power: float = POWER
) -> float:
    """Minimum detectable rise of a rate `p` (A's) with `n_a`, `n_b` observations: the
    difference d at which the pooled z test has `power`, with B's variance at p + d."""
    _check(alpha, power)
    p = min(max(p, 1e-6), 1 - 1e-3)
    z_alpha, z_power = float(stats.norm.ppf(1 - alpha / 2)), float(stats.norm.ppf(power))

    def shortfall(d: float) -> float:
        pooled = (n_a * p + n_b * (p + d)) / (n_a + n_b)
        se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
        se1 = math.sqrt(p * (1 - p) / n_a + (p + d) * (1 - p - d) / n_b)
        return d - z_alpha * se0 - z_power * se1

    high = 1 - p - 1e-9
    if shortfall(high) < 0:
        return high  # even the largest rise is not detectable at these sizes
    return float(optimize.brentq(shortfall, 0.0, high))


def mde_means(
    sd_a: float, sd_b: float, n_a: int, n_b: int, alpha: float = ALPHA, power: float = POWER
) -> float:
    """Minimum detectable difference in means with standard deviations `sd_a`, `sd_b`."""
    _check(alpha, power)
    return _z(alpha, power) * math.sqrt(sd_a**2 / n_a + sd_b**2 / n_b)


def _count(what: str, n: int, noun: str) -> str:
    plural = noun if n == 1 else ("successes" if noun == "success" else f"{noun}s")
    return f"{what} has {n} {plural}"


def two_proportions(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    alpha: float = ALPHA,
    power: float = POWER,
) -> Comparison:
    """Two-proportion z test (pooled standard error) and a Wald interval of b - a."""
    for what, k, n in (("A", successes_a, n_a), ("B", successes_b, n_b)):
        if n < 0 or not 0 <= k <= max(n, 0):
            raise ValueError(f"variant {what}: {k} successes out of {n} is not a count")
    test = "two-proportion z"
    pa = successes_a / n_a if n_a else 0.0
    pb = successes_b / n_b if n_b else 0.0
    short = [
        _count(what, min(k, n - k), "success" if k <= n - k else "failure")
        for what, k, n in (("A", successes_a, n_a), ("B", successes_b, n_b))
        if min(k, n - k) < MIN_EVENTS
    ]
    if short:
        note = f"not enough data yet: {', '.join(short)} (need {MIN_EVENTS} of each)"
        mde = mde_proportions(pa, n_a, n_b, alpha, power) if n_a and n_b else None
        return Comparison(
            test, pa, pb, pb - pa, None, None, None, mde, n_a, n_b, False, note, alpha
        )
    pooled = (successes_a + successes_b) / (n_a + n_b)
    se_pooled = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    z = (pb - pa) / se_pooled
    p_value = float(2 * stats.norm.sf(abs(z)))
    se = math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)
    half = float(stats.norm.ppf(1 - alpha / 2)) * se
    mde = mde_proportions(pooled, n_a, n_b, alpha, power)
    return Comparison(
        test,
        pa,
        pb,
        pb - pa,
        pb - pa - half,
        pb - pa + half,
        p_value,
        mde,
        n_a,
        n_b,
        True,
        "",
        alpha,
    )


def _samples(values: Sequence[float], what: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or not np.isfinite(array).all():
        raise ValueError(f"variant {what}: expected a list of finite numbers")
    return array


def _short(a: np.ndarray, b: np.ndarray) -> str:
    short = [f"{w} has {len(x)}" for w, x in (("A", a), ("B", b)) if len(x) < MIN_SAMPLES]
    if not short:
        return ""
    return f"not enough data yet: {', '.join(short)} observations (need {MIN_SAMPLES})"


def welch(
    a: Sequence[float], b: Sequence[float], alpha: float = ALPHA, power: float = POWER
) -> Comparison:
    """Welch's t test of the means and the Welch-Satterthwaite interval of b - a."""
    xa, xb = _samples(a, "A"), _samples(b, "B")
    test = "Welch's t"
    ma = float(xa.mean()) if len(xa) else 0.0
    mb = float(xb.mean()) if len(xb) else 0.0
    note = _short(xa, xb)
    if note:
        return Comparison(
            test, ma, mb, mb - ma, None, None, None, None, len(xa), len(xb), False, note, alpha
        )
    va, vb = float(xa.var(ddof=1)) / len(xa), float(xb.var(ddof=1)) / len(xb)
    se = math.sqrt(va + vb)
    if se == 0:
        p_value = 1.0 if mb == ma else 0.0
        low = high = mb - ma
    else:
        df = (va + vb) ** 2 / (va**2 / (len(xa) - 1) + vb**2 / (len(xb) - 1))
        p_value = float(stats.ttest_ind(xb, xa, equal_var=False).pvalue)
        half = float(stats.t.ppf(1 - alpha / 2, df)) * se
        low, high = mb - ma - half, mb - ma + half
    mde = mde_means(float(xa.std(ddof=1)), float(xb.std(ddof=1)), len(xa), len(xb), alpha, power)
    return Comparison(
        test, ma, mb, mb - ma, low, high, p_value, mde, len(xa), len(xb), True, "", alpha
    )


def welch_from_stats(
    a: tuple[float, float, int],
    b: tuple[float, float, int],
    alpha: float = ALPHA,
    power: float = POWER,
) -> Comparison:
    """Welch's t test from (mean, standard deviation, count) of each variant, for metrics
    known only in summary (a latency histogram's sum, count and buckets)."""
    (ma, sa, na), (mb, sb, nb) = a, b
    test = "Welch's t"
    short = [f"{w} has {n}" for w, n in (("A", na), ("B", nb)) if n < MIN_SAMPLES]
    if short:
        note = f"not enough data yet: {', '.join(short)} observations (need {MIN_SAMPLES})"
        return Comparison(test, ma, mb, mb - ma, None, None, None, None, na, nb, False, note, alpha)
    va, vb = sa**2 / na, sb**2 / nb
    se = math.sqrt(va + vb)
    if se == 0:
        return Comparison(
            test,
            ma,
            mb,
            mb - ma,
            mb - ma,
            mb - ma,
            1.0 if ma == mb else 0.0,
            0.0,
            na,
            nb,
            True,
            "",
            alpha,
        )
    df = (va + vb) ** 2 / (va**2 / (na - 1) + vb**2 / (nb - 1))
    p_value = float(stats.ttest_ind_from_stats(mb, sb, nb, ma, sa, na, equal_var=False).pvalue)
    half = float(stats.t.ppf(1 - alpha / 2, df)) * se
    return Comparison(
        test,
        ma,
        mb,
        mb - ma,
        mb - ma - half,
        mb - ma + half,
        p_value,
        mde_means(sa, sb, na, nb, alpha, power),
        na,
        nb,
        True,
        "",
        alpha,
    )


def mann_whitney(
    a: Sequence[float], b: Sequence[float], alpha: float = ALPHA, power: float = POWER
) -> Comparison:
    """Mann-Whitney U test (two-sided) of B against A; the estimates are medians and the
    interval is a percentile bootstrap of the difference in medians (fixed seed)."""
    xa, xb = _samples(a, "A"), _samples(b, "B")
    test = "Mann-Whitney U"
    ma = float(np.median(xa)) if len(xa) else 0.0
    mb = float(np.median(xb)) if len(xb) else 0.0
    note = _short(xa, xb)
    if note:
        return Comparison(
            test, ma, mb, mb - ma, None, None, None, None, len(xa), len(xb), False, note, alpha
        )
    p_value = float(stats.mannwhitneyu(xb, xa, alternative="two-sided").pvalue)
    rng = np.random.default_rng(0)
    boot = np.median(rng.choice(xb, (1000, len(xb))), axis=1) - np.median(
        rng.choice(xa, (1000, len(xa))), axis=1
    )
    low, high = (float(q) for q in np.quantile(boot, [alpha / 2, 1 - alpha / 2]))
    # Normal-theory MDE of the means: a guide to the order of magnitude only.
    mde = mde_means(float(xa.std(ddof=1)), float(xb.std(ddof=1)), len(xa), len(xb), alpha, power)
    return Comparison(
        test, ma, mb, mb - ma, low, high, p_value, mde, len(xa), len(xb), True, "", alpha
    )


def skewed(values: Sequence[float]) -> bool:
    """Whether `values` are skewed enough (|skewness| > 1) that medians tell more than
    means, as latencies usually are."""
    array = np.asarray(values, dtype=float)
    return len(array) >= 3 and float(np.std(array)) > 0 and abs(float(stats.skew(array))) > 1


def continuous(
    a: Sequence[float], b: Sequence[float], alpha: float = ALPHA, power: float = POWER
) -> Comparison:
    """Mann-Whitney U when either sample is skewed, else Welch's t."""
    if skewed(a) or skewed(b):
        return mann_whitney(a, b, alpha, power)
    return welch(a, b, alpha, power)
