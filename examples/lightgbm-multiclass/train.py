"""A LightGBM three-class classifier saved as a text model.

python examples/lightgbm-multiclass/train.py   # writes examples/lightgbm-multiclass/bundle
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.datasets import make_classification

from inferstack.runtime import bundle

HERE = Path(__file__).resolve().parent


def build(out: Path) -> tuple[Path, Any, np.ndarray]:
    """Train, bundle to ``out``; returns the bundle, the in-process model and test rows."""
    x, y = make_classification(
        n_samples=1200, n_features=8, n_informative=5, n_classes=3, random_state=2
    )
    model = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, n_jobs=1, verbose=-1)
    model.fit(x[:1000], y[:1000])
    path = bundle(
        model.booster_,
        framework="lightgbm",
        name="lgbm-3class",
        version="1.0.0",
        out=out,
        overwrite=True,
    )
    return path, model.booster_.predict, x[1000:]


if __name__ == "__main__":
    print(build(HERE / "bundle")[0])
