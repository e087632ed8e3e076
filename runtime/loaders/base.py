"""The one interface every framework's loader implements."""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from inferstack.runtime.errors import BundleError, MissingExtraError
from inferstack.runtime.manifest import Batching, Manifest, OutputSchema

TABULAR_MAX_BATCH_SIZE = 256
"""The default for tabular models scored on the CPU (scikit-learn, XGBoost, LightGBM): a
call costs them little more at 256 rows than at 64, and a request of up to 256 rows is
then one call rather than four."""


class FittedInput(NamedTuple):
    """The columns of the DataFrame a model was fitted on, as far as the model knows them."""

    features: list[dict[str, Any]]
    """``{"name"[, "dtype"][, "categories"]}`` per column, in the model's order."""
    frame: bool
    """Whether the model must get a DataFrame (strings, categories, columns by name)."""


class Predictor:
    """A loaded model behind the runtime's contract.

    The server calls ``load`` once, then for every merged batch
    ``postprocess(predict(preprocess(x)))`` where ``x`` is a numpy array of shape
    ``(rows, *input.shape)`` already validated against the bundle's schema. The result
    must have one entry per row (a numpy array or a list). Subclasses override
    ``load`` and ``predict``; ``preprocess`` and ``postprocess`` default to identity.
    A custom predictor may raise ``InvalidInput`` for a row it cannot score: the server
    then answers that request alone with 400 and its batch mates normally.
    """

    framework: str = "custom"
    manifest: Manifest
    fast_path_allowed: bool = True
    default_max_batch_size: int = 64
    """Rows per model call when the bundle's author does not say: a bound on accelerator
    memory, and on how long a small request waits behind one call of a large request."""
    pickle_allowed: bool = False
    """Load a pickle-based artifact even when the manifest does not record the opt-in
    (``INFERSTACK_ALLOW_PICKLE``)."""

    def load(self, bundle_dir: Path) -> None:
        """Load the artifact from ``bundle_dir``; ``self.manifest`` is already set."""

    def preprocess(self, inputs: np.ndarray) -> Any:
        """Turn the validated batch into what ``predict`` takes."""
        return inputs

    def predict(self, inputs: Any) -> Any:
        """Run the model on a batch."""
        raise NotImplementedError

    def postprocess(self, outputs: Any) -> Any:
        """Turn the model's raw outputs into one JSON-able entry per row."""
        return outputs

    def default_output(self) -> OutputSchema:
        """The output a bundle gets when its author does not say (used by ``bundle``)."""
        return OutputSchema(kind="raw")

    def default_batching(self) -> Batching:
        """The batching bounds a bundle gets when its author does not say (``bundle``)."""
        return Batching(max_batch_size=self.default_max_batch_size)

    def expected_width(self) -> int | None:
        """Number of input cells per row the model expects, when it can tell."""
        return None

    def fitted_input(self) -> FittedInput | None:
        """What the model recorded of the DataFrame it was fitted on; ``None`` for arrays."""
        return None


def artifact_path(bundle_dir: Path, manifest: Manifest) -> Path:
    """The artifact's path, checked to exist."""
    if manifest.artifact is None:
        raise BundleError("bundle has no 'artifact'")
    path = Path(bundle_dir) / manifest.artifact
    if not path.exists():
        raise BundleError(f"artifact '{manifest.artifact}' not found in bundle '{bundle_dir}'")
    return path


PICKLE_OPT_IN = (
    "at bundling with bundle(..., allow_pickle=True) or inferstack bundle --allow-pickle "
    "(recorded in the manifest), or at serve time with INFERSTACK_ALLOW_PICKLE=true"
)


def refuse_pickle(predictor: Predictor, artifact: str, what: str) -> None:
    """Raise unless the bundle or the runtime opted in to loading a pickle.

    Unpickling runs whatever code the file names, so it happens only by choice.
    """
    if predictor.manifest.allow_pickle or predictor.pickle_allowed:
        return
    raise BundleError(
        f"artifact '{artifact}' is {what}: loading it runs any code it holds, so it is "
        f"refused without an explicit opt-in. If you trust it, opt in {PICKLE_OPT_IN}"
    )


def require(module: str, framework: str) -> Any:
    """Import a framework package or raise ``MissingExtraError`` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(framework, module) from err


def as_2d(outputs: Any) -> np.ndarray:
    """Model outputs as a numpy array with the batch dimension first."""
    arr = np.asarray(outputs)
    return arr.reshape(-1, 1) if arr.ndim == 0 else arr


def binary_to_two_columns(p: np.ndarray) -> np.ndarray:
    """``P(class 1)`` of a binary model as ``[P(0), P(1)]`` columns (sklearn's layout)."""
    p = np.asarray(p).reshape(-1)
    return np.stack([1.0 - p, p], axis=1)
