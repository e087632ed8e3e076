"""Framework loaders: output kinds per objective, and accelerator selection."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from inferstack.runtime import BundleError, bundle, load_bundle
from inferstack.runtime.loaders.onnx import providers


def test_xgboost_multi_softmax_serves_its_class_labels(tmp_path: Path) -> None:
    xgb = pytest.importorskip("xgboost")
    x = np.random.default_rng(0).normal(size=(120, 3))
    y = np.digitize(x[:, 0], [-0.5, 0.5])
    model = xgb.XGBClassifier(n_estimators=3, objective="multi:softmax").fit(x, y)
    common = {"framework": "xgboost", "name": "m", "version": "1.0.0"}
    path = bundle(model, out=tmp_path / "default", **common)
    served = load_bundle(path)
    assert served.manifest.output.kind == "label"
    assert served.run(x[:6]).tolist() == model.predict(x[:6]).tolist()
    labelled = load_bundle(bundle(model, out=tmp_path / "label", output="label", **common))
    assert labelled.run(x[:6]).tolist() == model.predict(x[:6]).tolist()
    with pytest.raises(BundleError, match="multi:softmax predicts classes, not probabilities"):
        bundle(model, out=tmp_path / "proba", output="probabilities", **common)


def test_onnx_uses_the_cuda_provider_when_present() -> None:
    gpu = SimpleNamespace(
        get_available_providers=lambda: [
            "TensorrtExecutionProvider",
            "CPUExecutionProvider",
            "CUDAExecutionProvider",
        ]
    )
    assert providers(gpu) == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    cpu = SimpleNamespace(get_available_providers=lambda: ["CPUExecutionProvider"])
    assert providers(cpu) == ["CPUExecutionProvider"]


def test_binary_logistic_fast_path_gives_predict_proba(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    from inferstack.runtime.loaders.sklearn import linear_fast_path

    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 6)) * 5
    model = LogisticRegression().fit(x, x[:, 0] + rng.normal(size=300) > 0)
    fast = linear_fast_path(model, "probabilities")
    assert fast is not None
    got = fast(x)
    assert got.shape == (300, 2)
    np.testing.assert_allclose(got, model.predict_proba(x), rtol=1e-12, atol=1e-15)
    assert np.array_equal(got[:, 0], 1.0 - got[:, 1])
    served = load_bundle(
        bundle(model, framework="sklearn", name="m", version="1.0.0", out=tmp_path)
    )
    assert np.array_equal(served.run(x[:64]), got[:64])
