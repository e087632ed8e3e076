"""XGBoost boosters saved as JSON or UBJSON, scored with ``inplace_predict``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from inferstack.runtime.errors import BundleError
from inferstack.runtime.loaders.base import Predictor, artifact_path, binary_to_two_columns, require
from inferstack.runtime.manifest import OutputSchema


def save(model: Any, out_dir: Path) -> str:
    """Save an ``XGBModel`` or ``Booster`` as JSON; returns the artifact's file name."""
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    booster.save_model(str(out_dir / "model.json"))
    return "model.json"


class XGBoostPredictor(Predictor):
    """An XGBoost booster; binary models give ``[P(0), P(1)]`` like scikit-learn."""

    framework = "xgboost"

    def load(self, bundle_dir: Path) -> None:
        xgb = require("xgboost", "xgboost")
        self.booster = xgb.Booster()
        self.booster.load_model(str(artifact_path(bundle_dir, self.manifest)))
        config = json.loads(self.booster.save_config())
        self.objective: str = config["learner"]["objective"]["name"]
        if self.objective == "multi:softmax" and self.manifest.output.kind == "probabilities":
            raise BundleError(
                "XGBoost objective multi:softmax predicts classes, not probabilities: "
                "use output 'label', or train with multi:softprob"
            )

    def predict(self, inputs: Any) -> Any:
        kind = self.manifest.output.kind
        raw = self.booster.inplace_predict(
            inputs, predict_type="margin" if kind == "raw" else "value"
        )
        if kind == "raw":
            return raw
        if self.objective.startswith("binary:"):
            proba = binary_to_two_columns(raw)
            return proba if kind == "probabilities" else proba.argmax(axis=1)
        if self.objective == "multi:softmax":  # the class index itself, as floats
            return np.asarray(raw).astype(np.int64)
        if self.objective.startswith("multi:"):
            return raw if kind == "probabilities" else np.asarray(raw).argmax(axis=1)
        return raw

    def expected_width(self) -> int | None:
        return int(self.booster.num_features())

    def default_output(self) -> OutputSchema:
        if self.objective.startswith("binary:"):
            return OutputSchema(kind="probabilities", names=("0", "1"))
        if self.objective == "multi:softprob":
            n = int(
                json.loads(self.booster.save_config())["learner"]["learner_model_param"][
                    "num_class"
                ]
            )
            return OutputSchema(kind="probabilities", names=tuple(str(i) for i in range(n)))
        if self.objective == "multi:softmax":
            return OutputSchema(kind="label")
        return OutputSchema(kind="value")
