"""POST /explain on a real server: SHAP additivity, agreement with shap in process, the
cost bound, the audit trail, and /invocations answering while explanations run."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import shap
import xgboost as xgb
from sklearn.datasets import make_classification
from sklearn.neighbors import KNeighborsClassifier

from inferstack.runtime import bundle
from inferstack.runtime.reference_samples import read_samples
from tests.runtime.conftest import Built
from tests.runtime.server import RuntimeServer, metric_value


@pytest.fixture(scope="module")
def xgb_bundle(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, xgb.XGBClassifier, np.ndarray]:
    x, y = make_classification(n_samples=800, n_features=6, random_state=3)
    model = xgb.XGBClassifier(n_estimators=15, max_depth=3, n_jobs=1).fit(x[:600], y[:600])
    out = tmp_path_factory.mktemp("explain") / "xgb"
    bundle(model, framework="xgboost", name="xgb-explain", version="1.0.0", out=out)
    return out, model, x[600:]


def test_tree_attributions_add_up_and_agree_with_shap_in_process(
    xgb_bundle: tuple[Path, xgb.XGBClassifier, np.ndarray], tmp_path: Path
) -> None:
    path, model, rows = xgb_bundle
    x = rows[:25]
    with RuntimeServer(path, tmp_path) as server:
        r = server.post("/explain", json={"instances": x.tolist(), "id": "audit-1"})
        assert r.status_code == 200, r.text
        v1 = server.post("/v1/models/xgb-explain:explain", json={"instances": x[:2].tolist()})
        assert v1.status_code == 200, v1.text
        text = server.get("/metrics").text
    body = r.json()
    assert body["explainer"] == "tree"
    assert body["id"] == "audit-1"
    names = [f"f{j}" for j in range(6)]
    got = np.array([[e["attributions"][n] for n in names] for e in body["explanations"]])
    base = np.array([e["base_value"] for e in body["explanations"]])
    margin = model.get_booster().predict(xgb.DMatrix(x), output_margin=True)
    np.testing.assert_allclose(got.sum(axis=1) + base, margin, rtol=1e-5, atol=1e-5)
    expected = shap.TreeExplainer(model.get_booster()).shap_values(x)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(body["predictions"], model.predict_proba(x), rtol=1e-6)
    assert v1.json()["explanations"] == body["explanations"][:2]
    mean_abs = np.abs(np.vstack([got, got[:2]])).mean(axis=0)
    mv = {"model": "xgb-explain", "version": "1.0.0"}
    for j, n in enumerate(names):
        assert metric_value(text, "inferstack_attribution_mean_abs", feature=n, **mv) == (
            pytest.approx(mean_abs[j], rel=1e-6)
        )
    share = metric_value(text, "inferstack_attribution_share", feature="f0", **mv)
    assert share == pytest.approx(mean_abs[0] / mean_abs.sum(), rel=1e-6)


def test_linear_attributions_add_up_and_agree_with_shap_in_process(
    sklearn_bundle: Built, tmp_path: Path
) -> None:
    path, proba, rows = sklearn_bundle
    model = proba.__self__
    x = rows[:10]
    with RuntimeServer(path, tmp_path) as server:
        r = server.post("/explain", json={"instances": x.tolist()})
        text = server.get("/metrics").text
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["explainer"] == "linear"
    names = [f"f{j}" for j in range(20)]
    got = np.array([[e["attributions"][n] for n in names] for e in body["explanations"]])
    base = np.array([e["base_value"] for e in body["explanations"]])
    np.testing.assert_allclose(got.sum(axis=1) + base, model.decision_function(x), atol=1e-6)
    samples = read_samples(path / "reference.npz").features
    background = np.column_stack([samples[n] for n in names]).astype(np.float64)[:100]
    explainer = shap.LinearExplainer(model, background)
    np.testing.assert_allclose(got, explainer.shap_values(x), rtol=1e-6, atol=1e-9)
    # attribution drift: live shares against the shares on the first 50 reference rows
    reference = np.abs(explainer.shap_values(background[:50])).mean(axis=0)
    now = np.abs(got).mean(axis=0)
    shift = np.abs(now / now.sum() - reference / reference.sum())
    mv = {"model": "logreg-20f", "version": "1.0.0"}
    for j, n in enumerate(names):
        assert metric_value(text, "inferstack_attribution_share_shift", feature=n, **mv) == (
            pytest.approx(shift[j], rel=1e-6, abs=1e-12)
        )


def test_the_cost_bound_refuses_an_oversized_request(sklearn_bundle: Built, tmp_path: Path) -> None:
    path, _, rows = sklearn_bundle
    env = {"INFERSTACK_EXPLAIN_MAX_COST": "100"}  # 20 features: 5 rows fit
    with RuntimeServer(path, tmp_path, env=env) as server:
        ok = server.post("/explain", json={"instances": rows[:5].tolist()})
        refused = server.post("/explain", json={"instances": rows[:6].tolist()})
    assert ok.status_code == 200, ok.text
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "explain_budget_exceeded"
    assert "costs 120 model evaluations, over the budget of 100" in error["message"]
    assert "send at most 5 rows per request" in error["message"]


def test_invocations_answer_while_sampled_explanations_run_and_audit_is_kept(
    tmp_path: Path,
) -> None:
    x, y = make_classification(n_samples=600, n_features=5, random_state=4)
    model = KNeighborsClassifier(n_neighbors=7).fit(x, y)  # neither a tree nor linear
    path = bundle(
        model,
        framework="sklearn",
        name="knn",
        version="1.0.0",
        out=tmp_path / "knn",
        reference_data=x,
        output="probabilities",
        allow_pickle=True,
    )
    capture = tmp_path / "capture"
    env = {
        "INFERSTACK_CAPTURE_DIR": str(capture),
        "INFERSTACK_CAPTURE_SAMPLE_RATE": "1",
    }
    answers: list[int] = []

    def explain(server: RuntimeServer, k: int) -> None:
        r = server.post(
            "/explain", json={"instances": x[k * 8 : k * 8 + 8].tolist(), "id": f"e{k}"}
        )
        answers.append(r.status_code)

    with RuntimeServer(path, tmp_path, env=env) as server:
        threads = [threading.Thread(target=explain, args=(server, k)) for k in range(4)]
        for t in threads:
            t.start()
        for i in range(40):
            r = server.post("/invocations", json={"instances": x[i : i + 5].tolist()})
            assert r.status_code == 200, r.text
            np.testing.assert_allclose(r.json()["predictions"], model.predict_proba(x[i : i + 5]))
        for t in threads:
            t.join(300)
    assert answers == [200] * 4
    trail = [
        json.loads(line)
        for f in capture.glob("*.explanations.jsonl")
        for line in f.read_text().splitlines()
    ]
    assert sorted(r["id"] for r in trail) == ["e0", "e1", "e2", "e3"]
    for record in trail:
        assert record["explainer"] == "sampling"
        assert len(record["explanations"]) == len(record["inputs"]) == 8
