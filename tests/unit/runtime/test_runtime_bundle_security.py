"""A bundle is code: pickles need an opt-in made before anything is unpickled, served
files must match the digests recorded at bundling and lie inside the bundle, and
scikit-learn models are saved with skops when skops can represent them."""

from __future__ import annotations

import logging
import shutil
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from inferstack.runtime import BundleError, bundle, load_bundle, read_manifest
from inferstack.runtime.schema import RowDecoder
from tests.runtime.pickles import WIDTH, marker_pickle

COMMON = {"framework": "sklearn", "name": "m", "version": "1.0.0"}


class Identity(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """A user's own transformer: a type skops does not know."""

    def fit(self, x: np.ndarray, y: object = None) -> Identity:
        return self

    def transform(self, x: np.ndarray) -> np.ndarray:
        return x


def _xy() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(1).normal(size=(60, WIDTH))
    return x, (x[:, 1] > 0).astype(int)


def test_a_pickle_is_not_loaded_at_bundling_without_the_opt_in(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = marker_pickle(tmp_path / "model.joblib", marker)
    with pytest.raises(BundleError, match=r"'model\.joblib' is a pickle: loading it runs any code"):
        bundle(evil, out=tmp_path / "b", **COMMON)
    assert not marker.exists(), "bundling a pickle without the opt-in ran it"
    assert not (tmp_path / "b").exists()

    path = bundle(evil, out=tmp_path / "ok", allow_pickle=True, **COMMON)  # the user's choice
    assert marker.exists(), "the payload is real: with the opt-in the probe loads it"
    manifest = read_manifest(path)
    assert manifest.allow_pickle
    assert set(manifest.digests or {}) == {"model.joblib"}


def test_a_pickle_is_not_loaded_at_serve_without_the_opt_in(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    folder = tmp_path / "b"
    folder.mkdir()
    marker_pickle(folder / "model.joblib", marker)
    manifest = {**COMMON, "artifact": "model.joblib", "input": {"shape": [WIDTH]}}
    (folder / "inferstack.yaml").write_text(yaml.safe_dump(manifest))
    with pytest.raises(BundleError) as err:
        load_bundle(folder)
    assert "artifact 'model.joblib' is a pickle (joblib)" in err.value.message
    assert "INFERSTACK_ALLOW_PICKLE=true" in err.value.message
    assert "--allow-pickle" in err.value.message
    assert not marker.exists()
    served = load_bundle(folder, allow_pickle=True)  # the runtime setting's path
    assert marker.exists()
    assert len(served.predict([[0.0] * WIDTH])) == 1


def test_sklearn_models_are_saved_with_skops(tmp_path: Path) -> None:
    x, y = _xy()
    path = bundle(LogisticRegression().fit(x, y), out=tmp_path / "lr", **COMMON)
    manifest = read_manifest(path)
    assert (manifest.artifact, manifest.allow_pickle, manifest.skops_trusted) == (
        "model.skops",
        False,
        (),
    )
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(x, y)
    path = bundle(forest, out=tmp_path / "rf", **COMMON)
    manifest = read_manifest(path)
    assert manifest.artifact == "model.skops"
    assert "sklearn.tree._tree.Tree" in manifest.skops_trusted  # scikit-learn's own class
    np.testing.assert_allclose(
        load_bundle(path).predict(x[:5].tolist()), forest.predict_proba(x[:5])
    )


def test_a_model_skops_cannot_represent_needs_the_opt_in(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    x, y = _xy()
    model = make_pipeline(Identity(), LogisticRegression()).fit(x, y)
    with pytest.raises(BundleError, match=r"skops does not trust by default: \[.*Identity'\]"):
        bundle(model, out=tmp_path / "a", shape=[WIDTH], **COMMON)
    assert not (tmp_path / "a").exists()
    with caplog.at_level(logging.WARNING, logger="inferstack.runtime"):
        path = bundle(model, out=tmp_path / "b", shape=[WIDTH], allow_pickle=True, **COMMON)
    assert read_manifest(path).artifact == "model.joblib"
    assert read_manifest(path).allow_pickle
    warned = [r for r in caplog.records if "joblib pickle" in r.getMessage()]
    assert warned
    assert "Identity" in warned[0].__dict__["reason"]


def test_a_changed_file_is_refused_naming_it(tmp_path: Path) -> None:
    x, y = _xy()
    path = bundle(LogisticRegression().fit(x, y), out=tmp_path / "a", **COMMON)
    other = bundle(LogisticRegression(C=0.01).fit(x, y), out=tmp_path / "b", **COMMON)
    shutil.copy(other / "model.skops", path / "model.skops")
    with pytest.raises(BundleError, match=r"bundle file 'model\.skops' changed since bundling"):
        load_bundle(path)
    (path / "model.skops").unlink()
    with pytest.raises(BundleError, match=r"artifact 'model\.skops' not found"):
        load_bundle(path)


def test_a_bundle_without_digests_loads_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    x, y = _xy()
    path = bundle(LogisticRegression().fit(x, y), out=tmp_path / "a", **COMMON)
    data = yaml.safe_load((path / "inferstack.yaml").read_text())
    del data["digests"]
    (path / "inferstack.yaml").write_text(yaml.safe_dump(data))
    with caplog.at_level(logging.WARNING, logger="inferstack.runtime"):
        assert len(load_bundle(path).predict(x[:2].tolist())) == 2
    assert any("bundle has no digests" in r.getMessage() for r in caplog.records)


def test_files_outside_the_bundle_are_refused(tmp_path: Path) -> None:
    x, y = _xy()
    path = bundle(LogisticRegression().fit(x, y), out=tmp_path / "a", **COMMON)
    outside = tmp_path / "elsewhere.skops"
    (path / "model.skops").rename(outside)
    (path / "model.skops").symlink_to(outside)
    with pytest.raises(BundleError, match=r"'model\.skops' is a symlink to .*outside the bundle"):
        load_bundle(path)
    (path / "model.skops").unlink()
    outside.rename(path / "model.skops")
    load_bundle(path)  # back inside: fine
    (path / "notes").symlink_to("/etc")
    with pytest.raises(BundleError, match=r"bundle file 'notes' is a symlink to '/etc'"):
        load_bundle(path)
    (path / "notes").unlink()
    (path / "alias.skops").symlink_to(path / "model.skops")  # inside the bundle: allowed
    load_bundle(path)


def test_torchscript_refuses_python_globals_in_its_pickles(tmp_path: Path) -> None:
    """Why TorchScript needs no pickle opt-in: its unpickler resolves no Python globals."""
    torch = pytest.importorskip("torch")
    import pickle

    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self) -> tuple[object, ...]:
            return (exec, (f"__import__('pathlib').Path({str(marker)!r}).write_text('ran')",))

    good = tmp_path / "good.pt"
    with warnings.catch_warnings():  # TorchScript is deprecated upstream, still supported
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.jit.script(torch.nn.Linear(WIDTH, 1)).save(str(good))
    evil = tmp_path / "model.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(evil, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, pickle.dumps(Payload(), 2) if name.endswith("/data.pkl") else data)
    with pytest.raises(BundleError, match=r"cannot load 'model\.pt'|not a TorchScript file"):
        bundle(
            evil, framework="pytorch", name="t", version="1.0.0", out=tmp_path / "b", shape=[WIDTH]
        )
    assert not marker.exists()


def test_csv_keeps_newlines_inside_quoted_strings() -> None:
    from inferstack.runtime.manifest import InputSchema

    decoder = RowDecoder(
        InputSchema.model_validate(
            {"features": [{"name": "a", "dtype": "float64"}, {"name": "t", "dtype": "string"}]}
        )
    )
    rows = decoder.decode_csv('1,"line one\nline two"\r\n\r\n2,"say ""hi"", twice"\n', "body")
    assert rows.tolist() == [[1.0, "line one\nline two"], [2.0, 'say "hi", twice']]
    from inferstack.runtime.errors import InvalidInput

    with pytest.raises(InvalidInput, match="body line 3: expected 2 values, got 1"):
        decoder.decode_csv('1,"a\nb"\n3\n', "body")
