"""XGBoost boosters saved as JSON or UBJSON, scored with ``inplace_predict``.

A booster fitted on a DataFrame with ``category`` columns (``enable_categorical``)
records its feature names, types (``c`` for categorical) and, since XGBoost 3.1,
the categories; such bundles (``input.frame``) get a DataFrame with those columns.
"""

from __future__ import annotations

import itertools
import json
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
from inferstack.runtime.manifest import OutputSchema

_TYPES = {"int": "int64", "i": "bool", "c": "string"}


def save(model: Any, out_dir: Path) -> str:
    """Save an ``XGBModel`` or ``Booster`` as JSON; returns the artifact's file name."""
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    booster.save_model(str(out_dir / "model.json"))
    return "model.json"


def booster_categories(booster: Any) -> dict[int, list[str]]:
    """String categories per feature index, as the model JSON keeps them (XGBoost >= 3.1)."""
    model = json.loads(booster.save_raw(raw_format="json"))
    encoders = model["learner"]["gradient_booster"]["model"].get("cats", {}).get("enc", [])
    out: dict[int, list[str]] = {}
    for i, enc in enumerate(encoders):
        offsets, values = enc.get("offsets"), enc.get("values")
        if offsets and values is not None:  # strings: UTF-8 bytes cut at the offsets
            raw = bytes(values)
            out[i] = [raw[a:b].decode() for a, b in itertools.pairwise(offsets)]
    return out


class XGBoostPredictor(Predictor):
    """An XGBoost booster; binary models give ``[P(0), P(1)]`` like scikit-learn."""

    framework = "xgboost"
    default_max_batch_size = TABULAR_MAX_BATCH_SIZE
    frame: FrameBuilder | None = None

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
        if self.manifest.input.frame:
            self.frame = FrameBuilder(
                self.manifest.input, "xgboost", categorical=True, refuse_unknown=True
            )

    def preprocess(self, inputs: np.ndarray) -> Any:
        return inputs if self.frame is None else self.frame(inputs)

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

    def fitted_input(self) -> FittedInput | None:
        names = self.booster.feature_names
        if names is None:
            return None
        types = self.booster.feature_types or ["q"] * len(names)
        categories = booster_categories(self.booster)
        features: list[dict[str, Any]] = []
        for i, (name, kind) in enumerate(zip(names, types, strict=True)):
            feature: dict[str, Any] = {"name": name}
            if kind in _TYPES:
                feature["dtype"] = _TYPES[kind]
            if i in categories:
                feature["categories"] = categories[i]
            features.append(feature)
        return FittedInput(features, frame="c" in types)

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
