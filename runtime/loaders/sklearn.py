"""scikit-learn: skops files by default, joblib pickles by explicit choice.

``bundle()`` saves a model with skops when skops can represent it: its types are ones
skops trusts by default, ones you trust (``skops_trusted``), or classes of
scikit-learn, numpy or scipy (tree structures, ``numpy.dtype``: trusted and recorded
in ``skops_trusted``; functions never are). Otherwise
it needs ``allow_pickle``: a pickle runs any code it holds when it is loaded, so a
joblib artifact loads only when the manifest records that choice or the runtime
allows pickles (``INFERSTACK_ALLOW_PICKLE``).

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

import importlib
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from inferstack.runtime.errors import BundleError
from inferstack.runtime.frames import FrameBuilder
from inferstack.runtime.loaders.base import (
    TABULAR_MAX_BATCH_SIZE,
    FittedInput,
    Predictor,
    artifact_path,
    refuse_pickle,
    require,
)
from inferstack.runtime.manifest import OutputSchema

log = logging.getLogger("inferstack.runtime")

_LINEAR_REGRESSORS = {"LinearRegression", "Ridge", "Lasso", "ElasticNet"}
SKOPS_SUFFIX = ".skops"


class Saved(NamedTuple):
    """What ``save`` wrote."""

    artifact: str
    trusted: tuple[str, ...]
    """Types of the skops file beyond skops' defaults, to record in ``skops_trusted``."""
    pickled: bool


class _NotSkopsError(Exception):
    """skops cannot represent the model safely; the message says why."""


def pickle_based(artifact: str) -> bool:
    """Whether loading this artifact unpickles it (anything but a ``.skops`` file)."""
    return Path(artifact).suffix != SKOPS_SUFFIX


def save(
    model: Any, out_dir: Path, trusted: Sequence[str] = (), allow_pickle: bool = False
) -> Saved:
    """Write ``model`` with skops where it can; with joblib only when ``allow_pickle``.

    Raises ``BundleError`` naming why skops cannot, and the two ways on, otherwise.
    """
    path = out_dir / "model.skops"
    try:
        return Saved(path.name, _save_skops(model, path, trusted), pickled=False)
    except _NotSkopsError as err:
        reason = str(err)
    path.unlink(missing_ok=True)
    if not allow_pickle:
        raise BundleError(
            f"skops cannot save this {type(model).__name__} safely: {reason}. If you trust "
            "those types, list them in skops_trusted (inferstack bundle --skops-trust A,B); "
            "or save a pickle with allow_pickle=True (--allow-pickle), which runs any code "
            "it holds when the bundle is loaded"
        )
    log.warning(
        "saving the model as a joblib pickle (allow_pickle): skops cannot represent it",
        extra={"reason": reason},
    )
    require("joblib", "sklearn").dump(model, out_dir / "model.joblib")
    return Saved("model.joblib", (), pickled=True)


def _save_skops(model: Any, path: Path, trusted: Sequence[str]) -> tuple[str, ...]:
    sio = require("skops.io", "sklearn")
    try:
        sio.dump(model, path)
    except Exception as err:  # any type skops cannot serialise
        raise _NotSkopsError(f"skops.io.dump failed: {type(err).__name__}: {err}") from err
    untrusted = set(sio.get_untrusted_types(file=path)) - set(trusted)
    own = sorted(t for t in untrusted if _library_class(t))
    foreign = sorted(untrusted - set(own))
    if foreign:
        raise _NotSkopsError(f"it holds types skops does not trust by default: {foreign}")
    try:
        sio.load(path, trusted=[*trusted, *own])
    except Exception as err:  # a file skops cannot read back is no artifact
        raise _NotSkopsError(f"skops cannot load it back: {type(err).__name__}: {err}") from err
    return tuple(own)


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
    """``[1 - p, p]`` with ``p = 1 / (1 + exp(-score))``, computed in place in the answer
    (the same operations as scikit-learn's, so the same bits; no temporaries to stack)."""
    dtype = scores.dtype if scores.dtype.kind == "f" else np.float64
    out = np.empty((scores.shape[0], 2), dtype=dtype)
    p = out[:, 1]
    np.negative(scores[:, 0], out=p)
    np.exp(p, out=p)
    p += 1.0
    np.divide(1.0, p, out=p)
    np.subtract(1.0, p, out=out[:, 0])
    return out


_LIBRARIES = frozenset({"sklearn", "numpy", "scipy"})


def _library_class(name: str) -> bool:
    """Whether ``name`` is a class of scikit-learn, numpy or scipy (a tree structure,
    ``numpy.dtype``): what sklearn models are made of. Functions are never trusted here."""
    module, _, attr = name.rpartition(".")
    if module.split(".")[0] not in _LIBRARIES:
        return False
    try:
        return isinstance(getattr(importlib.import_module(module), attr), type)
    except (ImportError, AttributeError):
        return False


class SklearnPredictor(Predictor):
    """A scikit-learn estimator or pipeline."""

    framework = "sklearn"
    default_max_batch_size = TABULAR_MAX_BATCH_SIZE
    model: Any
    fast: Callable[[np.ndarray], np.ndarray] | None = None
    frame: FrameBuilder | None = None

    def load(self, bundle_dir: Path) -> None:
        path = artifact_path(bundle_dir, self.manifest)
        if not pickle_based(path.name):
            untrusted = set(skops_untrusted(path)) - set(self.manifest.skops_trusted)
            if untrusted:
                raise BundleError(
                    f"skops artifact has untrusted types: {sorted(untrusted)}; if you trust "
                    "them, list them in skops_trusted (inferstack bundle --skops-trust A,B)"
                )
            sio = require("skops.io", "sklearn")
            self.model = sio.load(path, trusted=list(self.manifest.skops_trusted))
        else:
            refuse_pickle(self, self.manifest.artifact or path.name, "a pickle (joblib)")
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
