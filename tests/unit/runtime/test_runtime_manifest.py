"""Bundle manifests and bundle building: every invalid bundle fails with a clear error."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from inferstack.runtime import BundleError, MissingExtraError, bundle, load_bundle, read_manifest
from inferstack.runtime.manifest import parse_manifest

BASE = {
    "name": "m",
    "version": "1.0.0",
    "framework": "sklearn",
    "artifact": "model.joblib",
    "input": {"features": ["a", "b"]},
}


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    return LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
        ({"framework": "tensorflow"}, "framework: Input should be 'sklearn'"),
        ({"version": "v1"}, "version: String should match pattern"),
        ({"name": "Has Spaces"}, "name: String should match pattern"),
        ({"artifact": "../../etc/passwd"}, "artifact must be a path inside the bundle"),
        ({"input": {"features": ["a", "a"]}}, "duplicate names"),
        ({"input": {}}, "input needs 'features' or 'shape'"),
        ({"framework": "custom", "artifact": None}, "needs 'predictor: module:Class'"),
        (
            {"reference": {"zz": {"edges": [0.0], "fractions": [0.5, 0.5]}}},
            "unknown features: ['zz']",
        ),
    ],
)
def test_invalid_manifest_names_the_key(change: dict[str, object], message: str) -> None:
    data = {k: v for k, v in ({**BASE, **change}).items() if v is not None}
    with pytest.raises(BundleError, match=r"inferstack\.yaml") as info:
        parse_manifest(data)
    assert message in str(info.value)


def test_feature_names_take_the_schema_dtype() -> None:
    manifest = parse_manifest(
        {**BASE, "input": {"features": ["a", {"name": "b", "dtype": "int64"}], "dtype": "float32"}}
    )
    assert manifest.input.dtypes == ["float32", "int64"]


def test_bundle_round_trip_and_in_process_predict(
    model: LogisticRegression, tmp_path: Path
) -> None:
    path = bundle(
        model,
        framework="sklearn",
        name="lr",
        version="2.1.0",
        out=tmp_path / "b",
        features=["x", "y", "z"],
        batching={"max_batch_size": 8, "max_wait_ms": 0},
    )
    manifest = read_manifest(path)
    assert manifest.output.kind == "probabilities"
    assert manifest.output.names == ("0", "1")
    assert manifest.batching.max_batch_size == 8
    served = load_bundle(path)
    rows = [[0.1, 0.2, 0.3], [-1.0, 2.0, 0.5]]
    np.testing.assert_array_equal(served.predict(rows), model.predict_proba(np.asarray(rows)))


def test_bundle_errors(model: LogisticRegression, tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="unknown framework 'keras'"):
        bundle(model, framework="keras", name="m", version="1.0.0", out=tmp_path / "a")
    with pytest.raises(BundleError, match=r"model file '.*missing\.joblib' not found"):
        bundle(
            tmp_path / "missing.joblib",
            framework="sklearn",
            name="m",
            version="1.0.0",
            out=tmp_path / "b",
        )
    with pytest.raises(BundleError, match="input schema has 2 features but the model expects 3"):
        bundle(
            model,
            framework="sklearn",
            name="m",
            version="1.0.0",
            out=tmp_path / "c",
            features=["a", "b"],
        )
    from sklearn.linear_model import LinearRegression

    reg = LinearRegression().fit(np.ones((4, 3)), np.ones(4))
    with pytest.raises(BundleError, match="has no predict_proba"):
        bundle(
            reg,
            framework="sklearn",
            name="m",
            version="1.0.0",
            out=tmp_path / "d",
            output="probabilities",
        )
    with pytest.raises(BundleError, match=r"files: '.*notes\.txt' is not a file"):
        bundle(
            model,
            framework="sklearn",
            name="m",
            version="1.0.0",
            out=tmp_path / "e",
            files=[tmp_path / "notes.txt"],
        )
    assert not (tmp_path / "c").exists(), "a failed bundle must not leave a half-written folder"


def test_bundle_missing_artifact_and_wrong_framework_at_load(
    model: LogisticRegression, tmp_path: Path
) -> None:
    path = bundle(model, framework="sklearn", name="m", version="1.0.0", out=tmp_path / "b")
    (path / "model.skops").unlink()
    with pytest.raises(BundleError, match=r"artifact 'model\.skops' not found"):
        load_bundle(path)
    path = bundle(model, framework="sklearn", name="m", version="1.0.0", out=tmp_path / "c")
    data = yaml.safe_load((path / "inferstack.yaml").read_text())
    (path / "inferstack.yaml").write_text(yaml.safe_dump({**data, "framework": "xgboost"}))
    with pytest.raises(BundleError, match=r"xgboost cannot load 'model\.skops'"):
        load_bundle(path)


def test_missing_framework_package_names_the_extra(
    model: LogisticRegression, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = bundle(model, framework="sklearn", name="m", version="1.0.0", out=tmp_path / "b")
    data = yaml.safe_load((path / "inferstack.yaml").read_text())
    (path / "inferstack.yaml").write_text(yaml.safe_dump({**data, "framework": "lightgbm"}))
    monkeypatch.setitem(sys.modules, "lightgbm", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'inferstack\[lightgbm\]'"):
        load_bundle(path)


def test_skops_artifact_refuses_untrusted_types(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import skops.io as sio
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    (tmp_path / "inferstack_test_squash.py").write_text(
        "import numpy as np\n\ndef squash(x):\n    return np.tanh(x)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import inferstack_test_squash  # type: ignore[import-not-found]

    x = np.random.default_rng(0).normal(size=(50, 3))
    model = make_pipeline(FunctionTransformer(inferstack_test_squash.squash), LogisticRegression())
    model.fit(x, (x[:, 0] > 0).astype(int))
    sio.dump(model, tmp_path / "model.skops")
    common = {"framework": "sklearn", "name": "m", "version": "1.0.0", "features": ["a", "b", "c"]}
    with pytest.raises(BundleError, match=r"untrusted types: \['inferstack_test_squash.squash'\]"):
        bundle(tmp_path / "model.skops", out=tmp_path / "a", **common)
    with pytest.raises(
        BundleError, match=r"list them in skops_trusted \(inferstack bundle --skops"
    ):
        bundle(tmp_path / "model.skops", out=tmp_path / "a", **common)
    path = bundle(
        tmp_path / "model.skops",
        out=tmp_path / "b",
        skops_trusted=["inferstack_test_squash.squash"],
        **common,
    )
    np.testing.assert_allclose(
        load_bundle(path).predict(x[:3].tolist()), model.predict_proba(x[:3])
    )


def test_batching_defaults_by_framework(model: LogisticRegression, tmp_path: Path) -> None:
    common = {"name": "m", "version": "1.0.0", "features": ["x", "y", "z"]}
    tabular = bundle(model, framework="sklearn", out=tmp_path / "a", **common)
    assert read_manifest(tabular).batching.max_batch_size == 256  # one call per 256 rows
    waits = bundle(
        model, framework="sklearn", out=tmp_path / "b", batching={"max_wait_ms": 0}, **common
    )
    assert read_manifest(waits).batching.model_dump() == {"max_batch_size": 256, "max_wait_ms": 0}
    given = bundle(
        model, framework="sklearn", out=tmp_path / "c", batching={"max_batch_size": 8}, **common
    )
    assert read_manifest(given).batching.max_batch_size == 8
    (tmp_path / "predictor.py").write_text(
        "class P:\n    def predict(self, batch):\n        return batch[:, 0]\n"
    )
    custom = bundle(
        f"{tmp_path / 'predictor.py'}:P", framework="custom", out=tmp_path / "d", **common
    )
    assert read_manifest(custom).batching.max_batch_size == 64  # accelerator memory
