"""Bundle the custom threshold predictor with the model it wraps.

python examples/custom-threshold/train.py      # writes examples/custom-threshold/bundle
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from inferstack.runtime import bundle

HERE = Path(__file__).resolve().parent


def build(out: Path) -> tuple[Path, Any, np.ndarray]:
    """Train, bundle with ``predictor.py``; returns the bundle, an in-process scorer and rows."""
    x, y = make_classification(n_samples=800, n_features=5, random_state=5)
    model = LogisticRegression(max_iter=1000).fit(x[:600], y[:600])
    with tempfile.TemporaryDirectory() as tmp:
        artifact = Path(tmp) / "model.joblib"
        joblib.dump(model, artifact)
        path = bundle(
            f"{HERE / 'predictor.py'}:ThresholdPredictor",
            framework="custom",
            name="custom-threshold",
            version="1.0.0",
            out=out,
            files=[artifact],
            features=[f"f{i}" for i in range(5)],
            output="raw",
            overwrite=True,
        )

    def scorer(rows: np.ndarray) -> np.ndarray:
        p = model.predict_proba(np.clip(rows, -10.0, 10.0))[:, 1]
        return np.stack([p, (p >= 0.7).astype(np.float64)], axis=1)

    return path, scorer, x[600:]


if __name__ == "__main__":
    print(build(HERE / "bundle")[0])
