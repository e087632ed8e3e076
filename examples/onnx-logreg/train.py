"""A scikit-learn model converted to ONNX (skl2onnx), served by onnxruntime.

python examples/onnx-logreg/train.py           # writes examples/onnx-logreg/bundle
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from skl2onnx import to_onnx
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from inferstack.runtime import bundle

HERE = Path(__file__).resolve().parent


def build(out: Path) -> tuple[Path, Any, np.ndarray]:
    """Train, convert, bundle to ``out``; returns the bundle, an in-process scorer and rows."""
    x, y = make_classification(n_samples=1200, n_features=12, random_state=3)
    x = x.astype(np.float32)
    model = LogisticRegression(max_iter=1000).fit(x[:1000], y[:1000])
    onx = to_onnx(model, x[:1], options={"zipmap": False}, target_opset=17)
    path = bundle(
        onx,
        framework="onnx",
        name="onnx-logreg",
        version="1.0.0",
        out=out,
        dtype="float32",
        overwrite=True,
    )
    session = ort.InferenceSession(str(path / "model.onnx"), providers=["CPUExecutionProvider"])

    def scorer(rows: np.ndarray) -> np.ndarray:
        return session.run(
            ["probabilities"], {session.get_inputs()[0].name: rows.astype(np.float32)}
        )[0]

    return path, scorer, x[1000:]


if __name__ == "__main__":
    print(build(HERE / "bundle")[0])
