"""Per-feature attributions with SHAP, bounded in cost, for the ``/explain`` route.

The explainer is chosen once, on the first request: SHAP's exact tree algorithm for
XGBoost and LightGBM boosters and for scikit-learn tree models (forests, boosting),
its linear explainer for scikit-learn linear models (the background is the bundle's
reference sample), and otherwise its sampling explainer over the model's outputs with
up to ``BACKGROUND_ROWS`` rows of the reference sample as background. shap is
imported then, and only then: the ``explain`` extra is needed on servers that explain.

When the bundle has a reference sample (and explaining it fits the budget), the
explainer also explains its first ``REFERENCE_ROWS`` rows once, at build: each
feature's share of the mean absolute attributions there is the reference that live
shares are compared with.

Cost is counted in model evaluations: the exact algorithms count one per feature and
row, the sampling one ``2 * samples`` per row. A request whose cost is over the budget
is refused before any work (``ExplainBudgetExceeded``, 422), naming how many rows fit.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np

from inferstack.runtime.errors import (
    ExplainBudgetExceeded,
    MissingExtraError,
    NotExplainable,
)
from inferstack.runtime.model import ServedModel
from inferstack.runtime.reference_samples import read_samples

BACKGROUND_ROWS = 100
REFERENCE_ROWS = 50
"""Reference rows explained once to give each feature's reference attribution share."""


def _shap() -> Any:
    try:
        import shap
    except ImportError as err:
        raise MissingExtraError("explain", "shap") from err
    return shap


@dataclass(frozen=True)
class Explanation:
    """Attributions of a batch: ``values`` is rows x features (x outputs)."""

    kind: str
    values: np.ndarray
    base: np.ndarray

    def rows(self, names: list[str], outputs: list[str] | None) -> list[dict[str, Any]]:
        """One JSON-able explanation per row (per output when the model has several)."""
        out = []
        for v in self.values:
            if v.ndim == 1:
                out.append(
                    {
                        "attributions": dict(zip(names, v.tolist(), strict=True)),
                        "base_value": float(self.base.reshape(-1)[0]),
                    }
                )
                continue
            labels = outputs or [str(k) for k in range(v.shape[1])]
            out.append(
                {
                    "attributions": {
                        label: dict(zip(names, v[:, k].tolist(), strict=True))
                        for k, label in enumerate(labels)
                    },
                    "base_value": dict(zip(labels, self.base.reshape(-1).tolist(), strict=True)),
                }
            )
        return out


class Explainer:
    """Explains batches of validated rows of one served model."""

    def __init__(self, model: ServedModel, max_cost: int, samples: int) -> None:
        self.model = model
        self.names = model.manifest.input.names
        self.max_cost = max_cost
        self.samples = samples
        if model.decoder.np_dtype is object or len(model.manifest.input.row_shape) != 1:
            raise NotExplainable("explanations need a table of numeric features")
        shap = _shap()
        self.kind, self._explainer = self._choose(shap)
        self.reference_shares = self._reference_shares()

    def _reference_shares(self) -> dict[str, float] | None:
        """Attribution shares on the reference sample, when the bundle has one in budget."""
        try:
            rows = self._background()[:REFERENCE_ROWS]
        except NotExplainable:
            return None
        if self.cost(len(rows)) > self.max_cost:
            return None
        values = self.explain(rows).values
        window = AttributionWindow(self.names, len(rows))
        window.add(values)
        return shares(window.means())

    def _background(self) -> np.ndarray:
        m = self.model.manifest
        if m.reference_samples is None:
            raise NotExplainable(
                "this model needs the bundle's reference sample to be explained: "
                "bundle it with reference_data (inferstack bundle --reference)"
            )
        found = read_samples(self.model.bundle_dir / m.reference_samples).features
        cols = [found.get(n) for n in self.names]
        if any(c is None for c in cols) or len({len(c) for c in cols if c is not None}) != 1:
            raise NotExplainable("the bundle's reference sample does not cover every feature")
        data = np.column_stack([np.asarray(c, dtype=np.float64) for c in cols if c is not None])
        return data[:BACKGROUND_ROWS]

    def _choose(self, shap: Any) -> tuple[str, Any]:
        p = self.model.predictor
        booster = getattr(p, "booster", None)
        if booster is not None:
            return "tree", shap.TreeExplainer(booster)
        est = getattr(p, "model", None)
        if est is not None and _is_tree(est):
            try:
                return "tree", shap.TreeExplainer(est)
            except Exception:  # noqa: BLE001, S110 - a tree model shap cannot read: sample it
                pass
        background = self._background()
        if est is not None and hasattr(est, "coef_") and hasattr(est, "intercept_"):
            return "linear", shap.LinearExplainer(est, background)
        return "sampling", shap.SamplingExplainer(self._output, background)

    def _output(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.model.run(np.asarray(x, dtype=self.model.decoder.np_dtype)))

    def cost(self, rows: int) -> int:
        """Model evaluations ``rows`` rows cost."""
        per_row = 2 * self.samples if self.kind == "sampling" else len(self.names)
        return rows * per_row

    def check_budget(self, rows: int) -> None:
        """Refuse, before any work, a request whose cost is over the budget."""
        cost = self.cost(rows)
        if cost > self.max_cost:
            fit = self.max_cost // (cost // rows)
            raise ExplainBudgetExceeded(
                f"explaining {rows} rows with the {self.kind} explainer costs {cost} model "
                f"evaluations, over the budget of {self.max_cost} (INFERSTACK_EXPLAIN_MAX_COST): "
                + (f"send at most {fit} rows per request" if fit else "raise the budget")
            )

    def explain(self, x: np.ndarray) -> Explanation:
        """Attributions of the validated batch ``x`` (call ``check_budget`` first)."""
        self.check_budget(len(x))
        e = self._explainer
        if self.kind == "sampling":
            values = e.shap_values(x, nsamples=self.samples, silent=True)
        else:
            values = e.shap_values(x)
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 3 and values.shape[0] != len(x):  # older shap: outputs first
            values = np.moveaxis(values, 0, -1)
        if values.ndim == 3 and values.shape[2] == 1:
            values = values[:, :, 0]
        base = np.asarray(e.expected_value, dtype=np.float64)
        return Explanation(self.kind, values, base)


def _is_tree(est: Any) -> bool:
    name = type(est).__name__
    return hasattr(est, "tree_") or (
        hasattr(est, "estimators_")
        and ("Forest" in name or "Trees" in name or "GradientBoosting" in name)
    )


class AttributionWindow:
    """Mean absolute attribution per feature over the last ``size`` explained rows."""

    def __init__(self, names: list[str], size: int = 1000) -> None:
        self.names = names
        self._rows: deque[np.ndarray] = deque(maxlen=size)
        self._lock = threading.Lock()

    def add(self, values: np.ndarray) -> None:
        """Keep an explanation's absolute attributions (summed over outputs)."""
        a = np.abs(values)
        if a.ndim == 3:
            a = a.sum(axis=2)
        with self._lock:
            self._rows.extend(a)

    def means(self) -> dict[str, float]:
        """Mean |attribution| per feature over the window (empty before any row)."""
        with self._lock:
            if not self._rows:
                return {}
            m = np.mean(np.stack(list(self._rows)), axis=0)
        return dict(zip(self.names, m.tolist(), strict=True))


def shares(means: dict[str, float]) -> dict[str, float]:
    """Each feature's share of the total mean |attribution|."""
    total = sum(means.values())
    return {k: (v / total if total else 0.0) for k, v in means.items()}


def shifts(now: dict[str, float], reference: dict[str, float]) -> dict[str, float]:
    """How far each feature's share moved from its share on the reference sample."""
    return {k: abs(v - reference.get(k, 0.0)) for k, v in now.items()}


__all__ = ["AttributionWindow", "Explainer", "Explanation", "shares", "shifts"]
