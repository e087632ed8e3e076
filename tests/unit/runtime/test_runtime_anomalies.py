"""AnomalyCheck on its own: ranges, categories, booleans, and what it cannot check."""

from __future__ import annotations

import numpy as np
import pytest

from inferstack.runtime.anomalies import AnomalyCheck
from inferstack.runtime.manifest import FeatureProfile
from inferstack.runtime.reference import categorical_profile, numeric_profile

NUM = FeatureProfile(edges=(0.0,), fractions=(0.5, 0.5), low=-1.0, high=1.0)
OLD = FeatureProfile(edges=(0.0,), fractions=(0.5, 0.5))  # made before low/high existed


def test_counts_values_outside_the_range_and_unseen_categories() -> None:
    ref = {
        "a": NUM,
        "b": OLD,
        "c": FeatureProfile(categories=("x", "y"), fractions=(0.5, 0.5)),
        "d": FeatureProfile(categories=("true",), fractions=(1.0,)),
        "e": FeatureProfile(categories=("x",), fractions=(0.9,)),  # the top ones only
    }
    check = AnomalyCheck(
        ref, ["a", "b", "c", "d", "e"], ["float64"] * 2 + ["string", "bool"] * 1 + ["string"]
    )
    x = np.array(
        [[1.0, 99.0, "x", True, "z"], [1.5, 0.0, "w", False, "z"], [np.nan, 0.0, "y", True, "x"]],
        dtype=object,
    )
    found = check.check(x)
    assert found.range_checked == 2  # NaN is not checked, nor the profile without a range
    assert found.category_checked == 6  # c and d; e lists only its frequent categories
    assert found.out_of_range == {"a": 1}
    assert found.unseen == {"c": 1, "d": 1}
    assert found.share == 3 / 8


def test_profiles_from_data_carry_the_range() -> None:
    p = numeric_profile(np.array([3.0, -2.0, np.nan, 7.0]))
    assert p is not None
    assert (p.low, p.high) == (-2.0, 7.0)
    assert categorical_profile(np.array(["a", "b"], dtype=object)).low is None
    assert not AnomalyCheck({"a": OLD}, ["a"], ["float64"]).active


def test_float_batches_count_only_finite_values_outside_the_range() -> None:
    check = AnomalyCheck({"a": NUM, "b": NUM}, ["a", "b"], ["float64", "float64"])
    x = np.array([[2.0, -3.0], [np.inf, 0.5], [np.nan, -np.inf], [0.0, 1.0]])
    found = check.check(x)
    assert found.range_checked == 5  # two infinities and a NaN are not checked
    assert found.out_of_range == {"a": 1, "b": 1}
    assert check.check(np.zeros((3, 2), dtype=np.float32)).range_checked == 6


def _by_hand(x: np.ndarray, low: list[float], high: list[float]) -> tuple[int, dict[str, int]]:
    """The range check counted value by value, as the metrics' contract says."""
    checked, outside = 0, {}
    for j in range(x.shape[1]):
        for v in x[:, j].tolist():
            if np.isfinite(v):
                checked += 1
                if v < low[j] or v > high[j]:
                    outside[f"f{j}"] = outside.get(f"f{j}", 0) + 1
    return checked, outside


@pytest.mark.parametrize("rows", [1, 256, 5000])
@pytest.mark.parametrize("share", [0.0, 0.001, 0.3])
def test_vectorised_range_check_equals_a_count_by_hand(rows: int, share: float) -> None:
    rng = np.random.default_rng(rows + int(share * 1000))
    width = 7
    low = sorted(rng.normal(-2, 0.5, width).tolist())
    high = [lo + 4 for lo in low]
    x = rng.uniform(-1.5, 1.5, (rows, width))
    hit = rng.random((rows, width)) < share  # values well outside, some not finite
    x[hit] = rng.choice([-50.0, 50.0, np.nan, np.inf, -np.inf], int(hit.sum()))
    if rows:
        x[0, 0], x[-1, -1] = low[0], high[-1]  # the range's ends are inside
    names = [f"f{j}" for j in range(width)]
    ref = {
        n: FeatureProfile(edges=(0.0,), fractions=(0.5, 0.5), low=lo, high=hi)
        for n, lo, hi in zip(names, low, high, strict=True)
    }
    check = AnomalyCheck(ref, names, ["float64"] * width)
    check._ranges.max_rows = 1000  # several blocks for the largest batch
    found = check.check(x)
    checked, outside = _by_hand(x, low, high)
    assert found.range_checked == checked
    assert found.out_of_range == outside
    assert list(found.out_of_range) == sorted(outside, key=names.index)  # feature order
    as_ints = check.check(np.round(np.nan_to_num(x, posinf=60, neginf=-60)).astype(np.int64))
    want = _by_hand(np.round(np.nan_to_num(x, posinf=60, neginf=-60)), low, high)
    assert (as_ints.range_checked, as_ints.out_of_range) == want


def test_a_subset_of_profiled_columns_is_checked_alone() -> None:
    check = AnomalyCheck({"b": NUM}, ["a", "b", "c"], ["float64"] * 3)
    x = np.array([[5.0, 0.5, 5.0], [5.0, 2.0, -5.0], [np.nan, -3.0, 0.0]])
    found = check.check(x)
    assert (found.range_checked, found.out_of_range) == (3, {"b": 2})
