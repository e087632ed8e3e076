"""Anomalous inputs: values outside the reference's range, categories it never held.

``AnomalyCheck`` is built once from a bundle's reference profiles. For each request it
counts, per feature, the numeric values outside ``[low, high]`` (the smallest and
largest finite reference values; NaN is not checked) and the categorical values
(string and boolean features) that are none of the reference's categories. A
categorical profile that lists only the most frequent categories (its fractions add
up to less than 1) cannot tell unseen from rare, so that feature is not checked;
numeric profiles made before ``low``/``high`` existed are not checked either.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inferstack.runtime.manifest import FeatureProfile
from inferstack.runtime.reference import CATEGORICAL, category_labels

COMPLETE = 1 - 1e-6
"""Category fractions adding up to at least this list every category the reference held."""


@dataclass(frozen=True)
class Anomalies:
    """One request's checked values and, per feature, how many were anomalous."""

    rows: int
    range_checked: int = 0
    category_checked: int = 0
    out_of_range: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)

    @property
    def anomalous(self) -> int:
        """Values outside the range or of an unseen category."""
        return sum(self.out_of_range.values()) + sum(self.unseen.values())

    @property
    def checked(self) -> int:
        """Values compared with the reference."""
        return self.range_checked + self.category_checked

    @property
    def share(self) -> float:
        """The share of checked values that were anomalous (0 when none was checked)."""
        return self.anomalous / self.checked if self.checked else 0.0

    def record(self) -> dict[str, Any]:
        """The flag written into a captured record."""
        return {
            "anomalous": self.anomalous > 0,
            "share": self.share,
            "out_of_range": self.out_of_range,
            "unseen_categories": self.unseen,
        }


class AnomalyCheck:
    """Compares request batches with the reference profiles of a bundle's features."""

    def __init__(
        self, reference: dict[str, FeatureProfile], names: list[str], dtypes: list[str]
    ) -> None:
        numeric = [
            (j, n, p)
            for j, (n, d) in enumerate(zip(names, dtypes, strict=True))
            if d not in CATEGORICAL
            and (p := reference.get(n)) is not None
            and p.low is not None
            and p.high is not None
        ]
        self.numeric_names = [n for _, n, _ in numeric]
        self.numeric_cols = np.asarray([j for j, _, _ in numeric], dtype=np.intp)
        self.low = np.asarray([p.low for _, _, p in numeric], dtype=np.float64)
        self.high = np.asarray([p.high for _, _, p in numeric], dtype=np.float64)
        self.categorical = [
            (j, n, frozenset(p.categories))
            for j, (n, d) in enumerate(zip(names, dtypes, strict=True))
            if d in CATEGORICAL
            and (p := reference.get(n)) is not None
            and p.categories is not None
            and sum(p.fractions) >= COMPLETE
        ]
        self.booleans = {j for j, d in enumerate(dtypes) if d == "bool"}

    @property
    def active(self) -> bool:
        """Whether any feature can be checked."""
        return bool(self.numeric_names or self.categorical)

    def check(self, x: np.ndarray) -> Anomalies:
        """Count the anomalous values of a validated batch (rows x features)."""
        flat = x.reshape(len(x), -1)
        out_of_range: dict[str, int] = {}
        range_checked = 0
        if self.numeric_names:
            values = flat[:, self.numeric_cols]  # a copy already: no astype copy if float64
            if values.dtype != np.float64:
                values = values.astype(np.float64)
            finite = np.isfinite(values)
            range_checked = int(np.count_nonzero(finite))
            outside = (values < self.low) | (values > self.high)  # NaN compares false
            if range_checked != values.size:  # infinities are not checked
                outside &= finite
            counts = np.count_nonzero(outside, axis=0)
            out_of_range = {n: int(c) for n, c in zip(self.numeric_names, counts, strict=True) if c}
        unseen: dict[str, int] = {}
        for j, name, known in self.categorical:
            col = flat[:, j]
            labels = category_labels(col.astype(bool) if j in self.booleans else col)
            count = sum(1 for v in labels if v not in known)
            if count:
                unseen[name] = count
        return Anomalies(
            rows=len(x),
            range_checked=range_checked,
            category_checked=len(x) * len(self.categorical),
            out_of_range=out_of_range,
            unseen=unseen,
        )


__all__ = ["Anomalies", "AnomalyCheck"]
