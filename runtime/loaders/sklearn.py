"""scikit-learn: joblib pickles, or skops files for users who refuse pickle.

Fast path: for plain ``LogisticRegression`` and linear regressors the decision
function is computed directly with numpy. The runtime has already validated the
batch against the bundle's schema (shape, dtype, finiteness), so scikit-learn's own
re-validation (most of a single-row call's cost) is redundant. The fast path is only
used when it reproduces the estimator's own output on probe rows at load time;
every other estimator runs under ``sklearn.config_context(assume_finite=True)``.

Models fitted on a DataFrame (``feature_names_in_``) get one when the bundle says
``input.frame`` (pipelines select columns by name); the fast path, where it applies,
still takes the numpy batch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from inferstack.runtime.errors import BundleError
from inferstack.runtime.frames import FrameBuilder
from inferstack.runtime.loaders.base import FittedInput, Predictor, artifact_path, require
from inferstack.runtime.manifest import OutputSchema

_LINEAR_REGRESSORS = {"LinearRegression", "Ridge", "Lasso", "ElasticNet"}


def save(model: Any, out_dir: Path) -> str:
    """Write ``model`` with joblib; returns the artifact's file name."""
    joblib = require("joblib", "sklearn")
    joblib.dump(model, out_dir / "model.joblib")
    return "model.joblib"


def skops_untrusted(path: Path) -> list[str]:
    """Types in a skops file that skops does not trust by default."""
    sio = require("skops.io", "sklearn")
    return list(sio.get_untrusted_types(file=path))


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    scores /= scores.sum(axis=1, keepdims=True)
    return scores


def linear_fast_path(model: Any, kind: str) -> Callable[[np.ndarray], np.ndarray] | None:
    """A numpy-only function equal to the estimator's, or ``None`` if not applicable."""
    name = type(model).__name__
    coef = getattr(model, "coef_", None)
    intercept = getattr(model, "intercept_", None)
    if not isinstance(coef, np.ndarray) or type(model).__module__.split(".")[0] != "sklearn":
        return None
    coef_t = np.ascontiguousarray(np.atleast_2d(coef).T)
    bias = np.asarray(intercept, dtype=coef.dtype)
    if name == "LogisticRegression":
        classes = model.classes_
        if kind == "probabilities" and len(classes) == 2:
            return lambda x: _binary_proba(x @ coef_t + bias)
        if kind == "probabilities":
            return lambda x: _softmax(x @ coef_t + bias)
        if kind == "label" and len(classes) == 2:
            return lambda x: classes[((x @ coef_t + bias)[:, 0] > 0).astype(np.intp)]
        if kind == "label":
            return lambda x: classes[(x @ coef_t + bias).argmax(axis=1)]
        return None
    if name in _LINEAR_REGRESSORS and kind == "value":
        if np.ndim(coef) == 1:
            return lambda x: (x @ coef_t + bias)[:, 0]
        return lambda x: x @ coef_t + bias
    return None


def string_columns(model: Any, names: list[str]) -> dict[str, list[str]]:
    """Input columns a fitted pipeline encodes as strings, with the categories it learnt.

    Follows a ``Pipeline``'s steps while they keep the columns, a ``ColumnTransformer``
    into each transformer's columns, down to an encoder's ``categories_``.
    """
    steps = getattr(model, "steps", None)
    if isinstance(steps, list):
        for _, step in steps:
            if step is None or isinstance(step, str):
                continue
            inner = string_columns(step, names)
            if inner or not _keeps_columns(step, names):
                return inner
        return {}
    indices = getattr(model, "_transformer_to_input_indices", None)
    if isinstance(indices, dict) and hasattr(model, "transformers_"):
        found: dict[str, list[str]] = {}
        for name, transformer, _ in model.transformers_:
            if name in indices and not isinstance(transformer, str):
                found |= string_columns(transformer, [names[i] for i in indices[name]])
        return found
    categories = getattr(model, "categories_", None)
    if not isinstance(categories, list) or len(categories) != len(names):
        return {}
    return {
        n: [str(v) for v in c]
        for n, c in zip(names, categories, strict=True)
        if len(c) and all(isinstance(v, str) for v in c)
    }


def _keeps_columns(step: Any, names: list[str]) -> bool:
    try:
        return list(step.get_feature_names_out(names)) == names
    except Exception:  # noqa: BLE001 - any step that cannot say changes the columns
        return False


def _binary_proba(scores: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
    return np.stack([1.0 - p, p], axis=1)


class SklearnPredictor(Predictor):
    """A scikit-learn estimator or pipeline."""

    framework = "sklearn"
    model: Any
    fast: Callable[[np.ndarray], np.ndarray] | None = None
    frame: FrameBuilder | None = None

    def load(self, bundle_dir: Path) -> None:
        path = artifact_path(bundle_dir, self.manifest)
        if path.suffix == ".skops":
            untrusted = set(skops_untrusted(path)) - set(self.manifest.skops_trusted)
            if untrusted:
                raise BundleError(
                    f"skops artifact has untrusted types: {sorted(untrusted)}; if you trust "
                    "them, list them in skops_trusted (inferstack bundle --skops-trust A,B)"
                )
            sio = require("skops.io", "sklearn")
            self.model = sio.load(path, trusted=list(self.manifest.skops_trusted))
        else:
            self.model = require("joblib", "sklearn").load(path)
        self._method = self._pick_method(self.manifest.output.kind)
        if self.manifest.input.frame:
            fitted = getattr(self.model, "feature_names_in_", None)
            if fitted is not None and list(fitted) != self.manifest.input.names:
                raise BundleError(
                    f"input features {self.manifest.input.names} are not the columns the "
                    f"model was fitted on: {list(fitted)}"
                )
            self.frame = FrameBuilder(self.manifest.input, "sklearn")
        self.fast = self._verified_fast_path() if self.fast_path_allowed else None

    def _pick_method(self, kind: str) -> Callable[[Any], Any]:
        model = self.model
        if kind == "probabilities":
            if not hasattr(model, "predict_proba"):
                raise BundleError(
                    f"{type(model).__name__} has no predict_proba for 'probabilities'"
                )
            return model.predict_proba  # type: ignore[no-any-return]
        if kind == "raw" and hasattr(model, "decision_function"):
            return model.decision_function  # type: ignore[no-any-return]
        return model.predict  # type: ignore[no-any-return]

    def _verified_fast_path(self) -> Callable[[np.ndarray], np.ndarray] | None:
        fast = linear_fast_path(self.model, self.manifest.output.kind)
        width = self.expected_width()
        if fast is None or width is None:
            return None
        probe = np.random.default_rng(0).normal(0.0, 3.0, size=(16, width))
        try:
            slow = self._method(probe if self.frame is None else self.frame(probe))
            same = np.allclose(fast(probe), slow, rtol=1e-9, atol=1e-12)
        except (ValueError, TypeError):
            return None
        return fast if same else None

    def preprocess(self, inputs: np.ndarray) -> Any:
        if self.frame is not None and self.fast is None:
            return self.frame(inputs)
        return inputs

    def predict(self, inputs: Any) -> Any:
        if self.fast is not None:
            return self.fast(inputs)
        import sklearn

        with sklearn.config_context(assume_finite=True):
            return self._method(inputs)

    def expected_width(self) -> int | None:
        n = getattr(self.model, "n_features_in_", None)
        return int(n) if n is not None else None

    def fitted_input(self) -> FittedInput | None:
        names = getattr(self.model, "feature_names_in_", None)
        if names is None:
            return None
        names = [str(n) for n in names]
        strings = string_columns(self.model, names)
        features: list[dict[str, Any]] = [
            {"name": n, "dtype": "string", "categories": strings[n]}
            if n in strings
            else {"name": n}
            for n in names
        ]
        return FittedInput(features, frame=True)

    def default_output(self) -> OutputSchema:
        if hasattr(self.model, "predict_proba") and hasattr(self.model, "classes_"):
            return OutputSchema(kind="probabilities", names=tuple(map(str, self.model.classes_)))
        if require("sklearn.base", "sklearn").is_regressor(self.model):
            return OutputSchema(kind="value")
        return OutputSchema(kind="raw")
