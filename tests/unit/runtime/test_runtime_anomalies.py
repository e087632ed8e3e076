"""AnomalyCheck on its own: ranges, categories, booleans, and what it cannot check."""

from __future__ import annotations

import numpy as np

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
