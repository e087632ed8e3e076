"""An XGBoost binary classifier saved as JSON.

python examples/xgboost-binary/train.py        # writes examples/xgboost-binary/bundle
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb
from sklearn.datasets import make_classification

from inferstack.runtime import bundle

HERE = Path(__file__).resolve().parent


def build(out: Path) -> tuple[Path, Any, np.ndarray]:
    """Train, bundle to ``out``; returns the bundle, the in-process model and test rows."""
    x, y = make_classification(n_samples=1200, n_features=10, random_state=1)
    model = xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1).fit(x[:1000], y[:1000])
    path = bundle(
        model, framework="xgboost", name="xgb-binary", version="1.0.0", out=out, overwrite=True
    )
    return path, model.predict_proba, x[1000:]


if __name__ == "__main__":
    print(build(HERE / "bundle")[0])
