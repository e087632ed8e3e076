"""LightGBM boosters saved as text model files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from inferstack.runtime.loaders.base import Predictor, artifact_path, binary_to_two_columns, require
from inferstack.runtime.manifest import OutputSchema


def save(model: Any, out_dir: Path) -> str:
    """Save an ``LGBMModel`` or ``Booster`` as text; returns the artifact's file name."""
    booster = model.booster_ if hasattr(model, "booster_") else model
    booster.save_model(str(out_dir / "model.txt"))
    return "model.txt"


class LightGBMPredictor(Predictor):
    """A LightGBM booster; binary models give ``[P(0), P(1)]`` like scikit-learn."""

    framework = "lightgbm"

    def load(self, bundle_dir: Path) -> None:
        lgb = require("lightgbm", "lightgbm")
        self.booster = lgb.Booster(model_file=str(artifact_path(bundle_dir, self.manifest)))
        self.objective = str(self.booster.params.get("objective", "regression"))
        self.num_class = int(self.booster.params.get("num_class", 1))

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

    def default_output(self) -> OutputSchema:
        if self.objective in ("binary", "cross_entropy", "xentropy"):
            return OutputSchema(kind="probabilities", names=("0", "1"))
        if self.num_class > 1:
            return OutputSchema(kind="probabilities", names=tuple(map(str, range(self.num_class))))
        return OutputSchema(kind="value")
