"""Composed bundles equal composing the models in process: pipelines over real HTTP,
ensembles (mean, weighted mean, vote, stacking) through the served path, and the CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from typer.testing import CliRunner

from inferstack.components.cli.app import app
from inferstack.runtime import bundle
from inferstack.runtime.composed import compose
from inferstack.runtime.errors import BundleError
from inferstack.runtime.model import load_bundle
from tests.runtime.server import RuntimeServer, metric_value


@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real models and their bundles: an encoder, classifiers on its outputs and on x."""
    d = tmp_path_factory.mktemp("parts")
    x, y = make_classification(n_samples=500, n_features=6, random_state=7)
    encoder = LinearRegression().fit(x, x[:, :3] * 2.0 + 1.0)  # 6 features -> 3
    head = LogisticRegression().fit(encoder.predict(x), y)
    a = LogisticRegression(C=0.1).fit(x, y)
    b = DecisionTreeClassifier(max_depth=4, random_state=0).fit(x, y)
    c = LogisticRegression(C=10.0).fit(x[:, ::-1], y)  # another view of the same rows
    stack_in = np.hstack([a.predict_proba(x), b.predict_proba(x)])
    stacker = LogisticRegression().fit(stack_in, y)
    made = {
        "enc": bundle(encoder, framework="sklearn", name="enc", version="1.0.0", out=d / "enc"),
        "head": bundle(
            head,
            framework="sklearn",
            name="head",
            version="1.0.0",
            out=d / "head",
            output="probabilities",
        ),
        "a": bundle(
            a, framework="sklearn", name="a", version="1.0.0", out=d / "a", output="probabilities"
        ),
        "b": bundle(
            b, framework="sklearn", name="b", version="1.0.0", out=d / "b", output="probabilities"
        ),
        "a_label": bundle(
            a, framework="sklearn", name="al", version="1.0.0", out=d / "al", output="label"
        ),
        "b_label": bundle(
            b, framework="sklearn", name="bl", version="1.0.0", out=d / "bl", output="label"
        ),
        "stacker": bundle(
            stacker,
            framework="sklearn",
            name="st",
            version="1.0.0",
            out=d / "st",
            features=[f"p{j}" for j in range(4)],
            output="probabilities",
        ),
    }
    return {"dir": d, "x": x[400:], "models": (encoder, head, a, b, c, stacker), **made}


def test_a_pipeline_served_over_http_equals_the_models_in_process(
    parts: dict[str, Any], tmp_path: Path
) -> None:
    d, x = parts["dir"], parts["x"]
    encoder, head = parts["models"][:2]
    path = compose(
        "pipeline",
        {"enc": parts["enc"], "head": parts["head"]},
        name="pipe",
        version="1.0.0",
        out=d / "pipe",
    )
    expected = head.predict_proba(encoder.predict(x))
    with RuntimeServer(path, tmp_path) as server:
        got = server.post("/predict", json={"instances": x.tolist()}).json()["predictions"]
        inv = server.post("/invocations", json={"instances": x[:7].tolist()}).json()
        v2 = server.post(
            "/v2/models/pipe/infer",
            json={
                "inputs": [
                    {
                        "name": "x",
                        "shape": [3, 6],
                        "datatype": "FP64",
                        "data": x[:3].reshape(-1).tolist(),
                    }
                ]
            },
        ).json()
        text = server.get("/metrics").text
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(inv["predictions"], expected[:7], rtol=1e-12)
    np.testing.assert_allclose(
        np.asarray(v2["outputs"][0]["data"]).reshape(3, -1), expected[:3], rtol=1e-12
    )
    mv = {"model": "pipe", "version": "1.0.0"}
    for step in ("enc", "head"):
        assert metric_value(text, "inferstack_step_duration_seconds_count", step=step, **mv) >= 3


def test_ensembles_equal_the_models_combined_in_process(parts: dict[str, Any]) -> None:
    d, x = parts["dir"], parts["x"]
    _, _, a, b, _, stacker = parts["models"]
    pa, pb = a.predict_proba(x), b.predict_proba(x)
    cases = {
        "mean": ({"a": parts["a"], "b": parts["b"]}, {}, (pa + pb) / 2),
        "weighted_mean": (
            {"a": parts["a"], "b": parts["b"]},
            {"weights": [3.0, 1.0]},
            0.75 * pa + 0.25 * pb,
        ),
        "stacking": (
            {"a": parts["a"], "b": parts["b"]},
            {"stacker": ("st", parts["stacker"])},
            stacker.predict_proba(np.hstack([pa, pb])),
        ),
    }
    for kind, (members, extra, expected) in cases.items():
        path = compose(
            kind,
            members,
            name=kind.replace("_", "-"),
            version="1.0.0",
            out=d / kind,
            **extra,
        )
        served = load_bundle(path)
        np.testing.assert_allclose(served.predict(x.tolist()), expected, rtol=1e-12, err_msg=kind)
    la, lb = a.predict(x), b.predict(x)
    path = compose(
        "vote",
        {"a": parts["a_label"], "b": parts["b_label"], "a2": parts["a_label"]},
        name="vote",
        version="1.0.0",
        out=d / "vote",
    )
    voted = load_bundle(path).predict(x.tolist())
    assert (la != lb).any()  # the vote decides something
    np.testing.assert_array_equal(voted, la)  # a twice outvotes b


def test_bad_compositions_are_refused_by_name(parts: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="2 weights for 3 parts"):
        compose(
            "weighted_mean",
            {"a": parts["a"], "b": parts["b"], "c": parts["a"]},
            name="w",
            version="1.0.0",
            out=tmp_path / "w",
            weights=[1.0, 2.0],
        )
    with pytest.raises(BundleError, match="ensemble member 'enc' takes other inputs"):
        compose(
            "mean",
            {"head": parts["head"], "enc": parts["enc"]},
            name="m",
            version="1.0.0",
            out=tmp_path / "m",
        )
    with pytest.raises(BundleError, match="part 'enc' cannot take the previous outputs"):
        compose(
            "pipeline",
            {"head": parts["head"], "enc": parts["enc"]},
            name="p",
            version="1.0.0",
            out=tmp_path / "p",
        )


def test_the_cli_composes_from_parts(parts: dict[str, Any], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "compose",
            "mean",
            "--part",
            f"a={parts['a']}",
            "--part",
            f"b={parts['b']}",
            "--name",
            "cli-mean",
            "--version",
            "1.0.0",
            "--out",
            str(tmp_path / "c"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (
        load_bundle(tmp_path / "c").manifest.predictor
        == "inferstack.runtime.composed:ComposedPredictor"
    )
    bad = CliRunner().invoke(
        app,
        [
            "compose",
            "median",
            "--part",
            f"a={parts['a']}",
            "--name",
            "x",
            "--version",
            "1.0.0",
            "--out",
            str(tmp_path / "d"),
        ],
    )
    assert bad.exit_code == 2
    assert "kind 'median'" in bad.output
