"""LightGBM boosters saved as text model files.

A booster fitted on a DataFrame keeps its column names and, for ``category``
columns, their categories (``pandas_categorical``); bundles of one with categories
(``input.frame``) get a DataFrame with those columns. LightGBM's own messages go to
the JSON log (``register_logger``), not to stdout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from inferstack.runtime.errors import BundleError
from inferstack.runtime.frames import FrameBuilder
from inferstack.runtime.loaders.base import (
    TABULAR_MAX_BATCH_SIZE,
    FittedInput,
    Predictor,
    artifact_path,
    binary_to_two_columns,
    require,
)
from inferstack.runtime.logs import library_logger
from inferstack.runtime.manifest import OutputSchema


def save(model: Any, out_dir: Path) -> str:
    """Save an ``LGBMModel`` or ``Booster`` as text; returns the artifact's file name."""
    booster = model.booster_ if hasattr(model, "booster_") else model
    booster.save_model(str(out_dir / "model.txt"))
    return "model.txt"


class LightGBMPredictor(Predictor):
    """A LightGBM booster; binary models give ``[P(0), P(1)]`` like scikit-learn."""

    framework = "lightgbm"
    default_max_batch_size = TABULAR_MAX_BATCH_SIZE
    frame: FrameBuilder | None = None

    def load(self, bundle_dir: Path) -> None:
        lgb = require("lightgbm", "lightgbm")
        lgb.register_logger(library_logger("lightgbm"))
        self.booster = lgb.Booster(model_file=str(artifact_path(bundle_dir, self.manifest)))
        self.objective = str(self.booster.params.get("objective", "regression"))
        self.num_class = int(self.booster.params.get("num_class", 1))
        if self.manifest.input.frame:
            self.frame = FrameBuilder(self.manifest.input, "lightgbm", categorical=True)

    def preprocess(self, inputs: np.ndarray) -> Any:
        return inputs if self.frame is None else self.frame(inputs)

    def predict(self, inputs: Any) -> Any:
        kind = self.manifest.output.kind
        out = self.booster.predict(inputs, raw_score=kind == "raw")
        if kind == "raw":
            return out
        if self.objective in ("binary", "cross_entropy", "xentropy"):
            proba = binary_to_two_columns(out)
            return proba if kind == "probabilities" else proba.argmax(axis=1)
        if self.num_class > 1:
            return out if kind == "probabilities" else np.asarray(out).argmax(axis=1)
        return out

    def expected_width(self) -> int | None:
        return int(self.booster.num_feature())

    def fitted_input(self) -> FittedInput | None:
        pandas_categorical = self.booster.pandas_categorical
        if pandas_categorical is None:  # fitted on an array
            return None
        names = self.booster.feature_name()
        indices = self.booster.params.get("categorical_feature") or []
        if isinstance(indices, int):
            indices = [indices]
        if len(indices) != len(pandas_categorical):
            raise BundleError(
                f"LightGBM model lists {len(pandas_categorical)} pandas categoricals but "
                f"{len(indices)} categorical features"
            )
        categories = dict(zip(map(int, indices), pandas_categorical, strict=True))
        features: list[dict[str, Any]] = []
        for i, name in enumerate(names):
            if i in categories:
                features.append(
                    {"name": name, "dtype": "string", "categories": list(categories[i])}
                )
            else:
                features.append({"name": name})
        return FittedInput(features, frame=bool(categories))

    def default_output(self) -> OutputSchema:
        if self.objective in ("binary", "cross_entropy", "xentropy"):
            return OutputSchema(kind="probabilities", names=("0", "1"))
        if self.num_class > 1:
            return OutputSchema(kind="probabilities", names=tuple(map(str, range(self.num_class))))
        return OutputSchema(kind="value")
