"""Anomalous inputs: values outside the reference's range, categories it never held.

``AnomalyCheck`` is built once from a bundle's reference profiles. For each request it
counts, per feature, the numeric values outside ``[low, high]`` (the smallest and
largest finite reference values; NaN is not checked) and the categorical values
(string and boolean features) that are none of the reference's categories. A
categorical profile that lists only the most frequent categories (its fractions add
up to less than 1) cannot tell unseen from rare, so that feature is not checked;
numeric profiles made before ``low``/``high`` existed are not checked either.

The range check is vectorised over the whole batch: each value is compared with a
tile of the bounds laid out like the rows (contiguous, so numpy runs one long loop
instead of a short one per row), and the per-feature counts come from the positions
of the few values outside, so a batch inside the range costs a handful of numpy calls.
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
        self._all_numeric = len(numeric) == len(names)  # every column, in order
        self._ranges = _Ranges(self.low, self.high)

    def _numeric(self, flat: np.ndarray) -> np.ndarray:
        """The checked numeric columns as float64 (the batch itself when it is exactly that)."""
        if self._all_numeric and flat.dtype == np.float64 and flat.shape[1] == len(self.low):
            return flat
        values = flat[:, self.numeric_cols]  # a copy already: no astype copy if float64
        return values if values.dtype == np.float64 else values.astype(np.float64)

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
            range_checked, counts = self._ranges.count(self._numeric(flat))
            if counts:
                names = self.numeric_names
                out_of_range = {names[j]: c for j, c in counts.items()}
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


class _Ranges:
    """Counts values outside per-column bounds ``[low, high]``, finite values only.

    The bounds are tiled into arrays shaped like a block of rows, grown to the largest
    batch seen up to ``TILE_VALUES`` values; larger batches are counted block by block.
    """

    def __init__(self, low: np.ndarray, high: np.ndarray) -> None:
        self.width = len(low)
        self.low_row = low
        self.high_row = high
        self.max_rows = max(1, TILE_VALUES // max(self.width, 1))
        self._tiles = (low.reshape(1, -1), high.reshape(1, -1))  # one attribute: thread-safe

    def tiles(self, rows: int) -> tuple[np.ndarray, np.ndarray]:
        """The bounds repeated for ``rows`` rows (views of tiles at least that long)."""
        low, high = self._tiles
        if len(low) < rows:
            low, high = np.tile(self.low_row, (rows, 1)), np.tile(self.high_row, (rows, 1))
            self._tiles = (low, high)
        return low[:rows], high[:rows]

    def count(self, values: np.ndarray) -> tuple[int, dict[int, int]]:
        """Finite values checked, and the columns holding finite values outside the
        bounds with how many, in column order."""
        checked = 0
        counts: dict[int, int] = {}
        for start in range(0, len(values), self.max_rows):
            block = values[start : start + self.max_rows]
            low, high = self.tiles(len(block))
            inside = np.greater_equal(block, low)
            inside &= np.less_equal(block, high)  # false for NaN and infinities too
            if np.count_nonzero(inside) == block.size:  # the usual case: all finite, inside
                checked += block.size
                continue
            where = np.logical_not(inside).ravel().nonzero()[0]  # few: look at them alone
            finite = np.isfinite(block.ravel()[where])
            checked += block.size - len(where) + int(np.count_nonzero(finite))
            if len(where) > FEW:
                found = np.bincount(where[finite] % self.width, minlength=self.width)
                for j in found.nonzero()[0].tolist():
                    counts[j] = counts.get(j, 0) + int(found[j])
                continue
            width = self.width
            for k, ok in zip(where.tolist(), finite.tolist(), strict=True):
                if ok:
                    counts[k % width] = counts.get(k % width, 0) + 1
        return checked, counts if len(counts) < 2 else dict(sorted(counts.items()))


TILE_VALUES = 1 << 16
"""Values per block of the range check: the bounds' tiles hold at most this many each."""
FEW = 64
"""Up to this many values not inside the range are counted one by one; more by bincount."""

__all__ = ["Anomalies", "AnomalyCheck"]
