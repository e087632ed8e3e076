"""Business logic around a model: a custom predictor (framework ``custom``).

``load`` reads the scikit-learn model shipped in the bundle; ``preprocess`` clips
inputs to the training range; ``postprocess`` turns P(approve) into
``[score, decision]`` with a business threshold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np

from inferstack.runtime import InvalidInput, Predictor

THRESHOLD = 0.7


class ThresholdPredictor(Predictor):
    """Scores with a logistic regression, approves above ``THRESHOLD``."""

    def load(self, bundle_dir: Path) -> None:
        self.model = joblib.load(bundle_dir / "model.joblib")

    def preprocess(self, inputs: np.ndarray) -> Any:
        if (inputs[:, 0] < -100).any():
            raise InvalidInput("f0 below -100 is outside what this model accepts")
        return np.clip(inputs, -10.0, 10.0)

    def predict(self, inputs: Any) -> Any:
        return self.model.predict_proba(inputs)[:, 1]

    def postprocess(self, outputs: Any) -> Any:
        return np.stack([outputs, (outputs >= THRESHOLD).astype(np.float64)], axis=1)
