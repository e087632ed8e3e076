"""The A/B statistics against statsmodels and scipy on known data, the "not enough
data yet" case, and a fixed-seed simulation of their power."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from inferstack.components.lifecycle import abstats


def test_two_proportions_matches_statsmodels() -> None:
    result = abstats.two_proportions(120, 1000, 140, 1000)
    _z, p = proportions_ztest([140, 120], [1000, 1000])
    low, high = confint_proportions_2indep(140, 1000, 120, 1000, method="wald")
    assert result.test == "two-proportion z"
    assert result.enough_data
    assert result.difference == pytest.approx(0.02)
    assert result.p_value == pytest.approx(p, rel=1e-9)
    assert (result.ci_low, result.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert result.p_value > 0.05
    assert not result.significant


def test_two_proportions_significant_difference() -> None:
    result = abstats.two_proportions(100, 2000, 160, 2000)
    _, p = proportions_ztest([160, 100], [2000, 2000])
    assert result.p_value == pytest.approx(p, rel=1e-9)
    assert result.significant
    assert result.ci_low is not None
    assert result.ci_low > 0


def test_welch_matches_statsmodels() -> None:
    rng = np.random.default_rng(7)
    a, b = rng.normal(100, 10, 80), rng.normal(104, 20, 60)
    result = abstats.welch(a.tolist(), b.tolist())
    compare = CompareMeans(DescrStatsW(b), DescrStatsW(a))
    _, p, _ = compare.ttest_ind(usevar="unequal")
    low, high = compare.tconfint_diff(usevar="unequal")
    assert result.test == "Welch's t"
    assert result.p_value == pytest.approx(p, rel=1e-9)
    assert (result.ci_low, result.ci_high) == (pytest.approx(low), pytest.approx(high))
    assert result.difference == pytest.approx(b.mean() - a.mean())


def test_mann_whitney_matches_scipy_and_is_chosen_for_skewed_data() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(3.0, 0.8, 200), rng.lognormal(3.2, 0.8, 200)
    result = abstats.continuous(a.tolist(), b.tolist())
    assert result.test == "Mann-Whitney U"
    assert result.p_value == pytest.approx(stats.mannwhitneyu(b, a).pvalue, rel=1e-12)
    assert result.difference == pytest.approx(np.median(b) - np.median(a))
    assert result.ci_low is not None
    assert result.ci_high is not None
    assert result.ci_low < result.difference < result.ci_high


def test_mde_means_matches_statsmodels_power() -> None:
    # statsmodels solves for the standardized effect; with one sd it is the MDE in sd units.
    effect = NormalIndPower().solve_power(nobs1=200, ratio=1.0, alpha=0.05, power=0.8)
    mde = abstats.mde_means(1.0, 1.0, 200, 200)
    # statsmodels counts the far tail too; it changes the fourth decimal at most here.
    assert mde == pytest.approx(effect, abs=1e-3)


def test_mde_proportions_is_detected_at_the_stated_power() -> None:
    mde = abstats.mde_proportions(0.1, 1500, 1500)
    h = 2 * math.asin(math.sqrt(0.1 + mde)) - 2 * math.asin(math.sqrt(0.1))
    power = NormalIndPower().power(effect_size=h, nobs1=1500, ratio=1.0, alpha=0.05)
    assert power == pytest.approx(0.8, abs=0.03)


@pytest.mark.parametrize(
    ("counts", "words"),
    [((3, 40, 5, 40), "A has 3 successes"), ((30, 40, 38, 40), "B has 2 failures")],
)
def test_two_proportions_not_enough_data(counts: tuple[int, int, int, int], words: str) -> None:
    result = abstats.two_proportions(*counts)
    assert not result.enough_data
    assert result.p_value is None
    assert result.ci_low is None
    assert not result.significant
    assert result.note.startswith("not enough data yet")
    assert words in result.note


def test_continuous_not_enough_data() -> None:
    result = abstats.welch([1.0, 2.0, 3.0], [2.0] * 40)
    assert not result.enough_data
    assert "A has 3 observations (need 30)" in result.note
    assert result.as_json()["significant"] is False


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="variant B: 12 successes out of 10"):
        abstats.two_proportions(1, 10, 12, 10)
    with pytest.raises(ValueError, match="variant A: expected a list of finite numbers"):
        abstats.welch([1.0, float("nan")], [1.0])
    with pytest.raises(ValueError, match="alpha and power"):
        abstats.mde_means(1, 1, 10, 10, alpha=1.5)


def test_true_difference_detected_at_the_expected_power() -> None:
    """With n per arm sized for 80% power, about 80% of simulated tests find it."""
    p_a, p_b = 0.10, 0.13
    z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    n = math.ceil(z**2 * (p_a * (1 - p_a) + p_b * (1 - p_b)) / (p_b - p_a) ** 2)
    rng = np.random.default_rng(20260)
    runs = 800
    hits = sum(
        abstats.two_proportions(
            int(rng.binomial(n, p_a)), n, int(rng.binomial(n, p_b)), n
        ).significant
        for _ in range(runs)
    )
    assert hits / runs == pytest.approx(0.8, abs=0.045)
    # and with no true difference, about alpha of them (false positives)
    false = sum(
        abstats.two_proportions(
            int(rng.binomial(n, p_a)), n, int(rng.binomial(n, p_a)), n
        ).significant
        for _ in range(runs)
    )
    assert false / runs == pytest.approx(0.05, abs=0.025)


def test_welch_power_simulation() -> None:
    sd, n = 10.0, 100
    delta = abstats.mde_means(sd, sd, n, n)
    rng = np.random.default_rng(11)
    runs = 500
    hits = sum(
        abstats.welch(rng.normal(0, sd, n).tolist(), rng.normal(delta, sd, n).tolist()).significant
        for _ in range(runs)
    )
    assert hits / runs == pytest.approx(0.8, abs=0.06)


def test_welch_from_summary_equals_welch_on_the_samples() -> None:
    rng = np.random.default_rng(9)
    a, b = rng.normal(10, 2, 50), rng.normal(11, 3, 70)
    whole = abstats.welch(a.tolist(), b.tolist())
    summary = abstats.welch_from_stats(
        (a.mean(), a.std(ddof=1), len(a)), (b.mean(), b.std(ddof=1), len(b))
    )
    assert summary.p_value == pytest.approx(whole.p_value, rel=1e-9)
    assert summary.ci_low == pytest.approx(whole.ci_low)
    assert summary.ci_high == pytest.approx(whole.ci_high)
    assert not abstats.welch_from_stats((1.0, 1.0, 5), (1.0, 1.0, 500)).enough_data
