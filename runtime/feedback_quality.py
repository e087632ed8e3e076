"""Live quality metrics over a rolling window of (outcome, prediction) pairs.

Numpy only (the runtime image carries no scikit-learn); the definitions are
scikit-learn's defaults, which the tests check value for value:

- classifiers: accuracy; for a binary model (two classes in ``output.names``, or, when
  the model names none, at most two labels seen) precision and recall of the positive
  class (the second of ``output.names``, else ``1``/``True``, else the second of two
  labels in sorted order; none while a single unknown label says nothing about which
  is positive); otherwise macro averages over the classes seen in outcomes and
  predictions, 0 where a class was never predicted (or never true); AUC from the
  probabilities when the model returns them: ROC AUC of the positive class for two
  classes, the macro average of one-vs-rest AUCs for more (only while every class is
  among the window's outcomes).
- regressors: MAE and RMSE.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Any

import numpy as np

__all__ = ["QualityWindow", "roc_auc"]


class QualityWindow:
    """The last ``size`` joined pairs of one model, and their quality metrics.

    ``classes`` are the probability columns' classes (None for label or value outputs).
    """

    def __init__(self, size: int, regression: bool, classes: list[str] | None = None) -> None:
        self.size = size
        self.regression = regression
        self.classes = classes
        self._pairs: deque[tuple[Any, Any, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, truth: Any, predicted: Any, scores: Any = None) -> None:
        """One joined pair (and the predicted class probabilities, when there are any)."""
        with self._lock:
            self._pairs.append((truth, predicted, scores))

    def __len__(self) -> int:
        return len(self._pairs)

    def compute(self) -> dict[str, float]:
        """The metrics over the window; empty while it holds nothing."""
        with self._lock:
            pairs = list(self._pairs)
        if not pairs:
            return {}
        if self.regression:
            y = np.array([p[0] for p in pairs], dtype=np.float64)
            f = np.array([p[1] for p in pairs], dtype=np.float64)
            err = f - y
            return {
                "mae": float(np.mean(np.abs(err))),
                "rmse": float(math.sqrt(float(np.mean(err * err)))),
            }
        truth = [p[0] for p in pairs]
        predicted = [p[1] for p in pairs]
        found = _classification(truth, predicted, self.classes)
        scores = [p[2] for p in pairs]
        if self.classes is not None and all(s is not None for s in scores):
            auc = _auc(truth, np.asarray(scores, dtype=np.float64), self.classes)
            if auc is not None:
                found["auc"] = auc
        return found


def _positive(seen: list[str], classes: list[str] | None) -> str | None:
    """The positive class of a binary model: the second of its classes; unknown classes:
    1 / True of a 0-1 or boolean window, else the larger of two labels (None for one
    label that says nothing about which class is positive)."""
    if classes is not None and len(classes) == 2:
        return classes[1]
    for negative, positive in (("0", "1"), ("False", "True"), ("false", "true")):
        if set(seen) <= {negative, positive}:
            return positive
    return sorted(seen)[-1] if len(seen) == 2 else None


def _classification(
    truth: list[str], predicted: list[str], classes: list[str] | None
) -> dict[str, float]:
    y = np.array(truth, dtype=object)
    f = np.array(predicted, dtype=object)
    found = {"accuracy": float(np.mean(y == f))}
    seen = sorted(set(truth) | set(predicted))
    # binary or macro by the model's classes when known, not by what the window holds
    if (len(classes) == 2) if classes is not None else (len(seen) <= 2):
        positive = _positive(seen, classes)
        if positive is not None:
            found["precision"], found["recall"] = _precision_recall(y, f, positive)
        return found
    per_class = [_precision_recall(y, f, c) for c in seen]
    found["precision"] = float(np.mean([p for p, _ in per_class]))
    found["recall"] = float(np.mean([r for _, r in per_class]))
    return found


def _precision_recall(y: np.ndarray, f: np.ndarray, positive: str) -> tuple[float, float]:
    tp = float(np.sum((f == positive) & (y == positive)))
    predicted = float(np.sum(f == positive))
    actual = float(np.sum(y == positive))
    return (tp / predicted if predicted else 0.0, tp / actual if actual else 0.0)


def _auc(truth: list[str], scores: np.ndarray, classes: list[str]) -> float | None:
    if scores.ndim == 1:  # one column: the positive class's probability
        positive = classes[-1]
        return roc_auc(np.array([t == positive for t in truth]), scores)
    if len(classes) == 2:
        return roc_auc(np.array([t == classes[1] for t in truth]), scores[:, 1])
    if set(truth) != set(classes):
        return None  # one-vs-rest needs every class among the outcomes
    aucs = [roc_auc(np.array([t == c for t in truth]), scores[:, j]) for j, c in enumerate(classes)]
    if any(a is None for a in aucs):
        return None
    return float(np.mean([a for a in aucs if a is not None]))


def roc_auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC by the rank-sum statistic (ties count half); None unless both classes occur."""
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    _, inverse, counts = np.unique(score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + 1 + ends) / 2.0)[inverse]  # ties share their average rank
    rank_sum = float(ranks[positive].sum())
    return (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
