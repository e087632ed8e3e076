"""The quickstart model: a scikit-learn logistic regression on 20 features.

python examples/logreg-20f/train.py            # rewrites examples/logreg-20f/bundle
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from inferstack.runtime import bundle

HERE = Path(__file__).resolve().parent


def data(n: int = 2000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic, deterministic training data (no downloads)."""
    return make_classification(n_samples=n, n_features=20, n_informative=8, random_state=seed)


def build(out: Path) -> tuple[Path, Any, np.ndarray]:
    """Train, bundle to ``out``; returns the bundle, the in-process model and test rows."""
    x, y = data()
    model = LogisticRegression(max_iter=1000).fit(x[:1500], y[:1500])
    path = bundle(
        model,
        framework="sklearn",
        name="logreg-20f",
        version="1.0.0",
        out=out,
        description="Logistic regression on 20 synthetic features (inferstack quickstart).",
        reference_data=x[:1500],
        overwrite=True,
    )
    return path, model.predict_proba, x[1500:]


if __name__ == "__main__":
    print(build(HERE / "bundle")[0])
