"""/metrics names and labels, drift scores, data capture; monitoring never breaks inference."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import httpx
import numpy as np

from tests.runtime.conftest import Built
from tests.runtime.server import RuntimeServer, metric_value

MV = {"model": "logreg-20f", "version": "1.0.0"}


def test_metrics_names_and_labels(sklearn_bundle: Built, log_dir: Path) -> None:
    rows = sklearn_bundle[2]
    env = {"INFERSTACK_DRIFT_MIN_ROWS": "50"}
    with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server:
        assert server.post("/predict", json={"instances": rows[:300].tolist()}).status_code == 200
        assert server.post("/predict", json={"instances": [[1]]}).status_code == 400
        text = server.get("/metrics").text
        assert (
            metric_value(text, "inferstack_requests_total", route="/predict", code="200", **MV) == 1
        )
        assert (
            metric_value(text, "inferstack_errors_total", route="/predict", code="400", **MV) == 1
        )
        assert (
            metric_value(text, "inferstack_errors_total", route="/predict", code="200", **MV) == 0
        )
        assert (
            metric_value(text, "inferstack_request_duration_seconds_count", route="/predict", **MV)
            == 2
        )
        assert metric_value(text, "inferstack_batch_size_sum", **MV) == 300
        assert metric_value(text, "inferstack_model_info", framework="sklearn", **MV) == 1
        assert metric_value(text, "inferstack_model_load_seconds", **MV) > 0
        for gauge in ("inferstack_queue_depth", "inferstack_inflight_requests"):
            assert f'{gauge}{{model="logreg-20f",version="1.0.0"}}' in text
        in_distribution = max(
            metric_value(text, "inferstack_drift_score", feature=f"f{j}", **MV) for j in range(20)
        )
        assert in_distribution < 0.25, "held-out rows from the training distribution look drifted"

        shifted = rows[:200].copy()
        shifted[:, 3] += 6.0
        for _ in range(5):
            assert server.post("/predict", json={"instances": shifted.tolist()}).status_code == 200
        text = server.get("/metrics").text
        assert metric_value(text, "inferstack_drift_score", feature="f3", **MV) > 1.0
        assert metric_value(text, "inferstack_drift_score", feature="f4", **MV) < 0.25


def test_capture_writes_sampled_requests(
    sklearn_bundle: Built, tmp_path: Path, log_dir: Path
) -> None:
    capture = tmp_path / "capture"
    env = {"INFERSTACK_CAPTURE_DIR": str(capture), "INFERSTACK_CAPTURE_SAMPLE_RATE": "1.0"}
    rows = sklearn_bundle[2][:3]
    with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server:
        answers = [
            server.post("/predict", json={"instances": [row.tolist()]}).json() for row in rows
        ]
    records = [
        json.loads(line)
        for f in sorted(capture.glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    assert len(records) == 3
    by_input = {tuple(r["inputs"][0]): r for r in records}
    for row, answer in zip(rows, answers, strict=True):
        record = by_input[tuple(row.tolist())]
        assert record["outputs"] == answer["predictions"]
        assert record["model"] == "logreg-20f"
        assert record["route"] == "/predict"


def test_failing_capture_never_breaks_inference(
    sklearn_bundle: Built, tmp_path: Path, log_dir: Path
) -> None:
    capture = tmp_path / "capture"
    env = {"INFERSTACK_CAPTURE_DIR": str(capture), "INFERSTACK_CAPTURE_SAMPLE_RATE": "1.0"}
    row = sklearn_bundle[2][0].tolist()
    with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server:
        shutil.rmtree(capture)
        capture.write_text("a file where the capture folder was")
        response = server.post("/predict", json={"instances": [row]})
        assert response.status_code == 200
        assert np.asarray(response.json()["predictions"]).shape == (1, 2)
        deadline = time.monotonic() + 5
        while "capture sink failed" not in server.logs() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "capture sink failed" in server.logs()


def _emf_lines(server: RuntimeServer) -> list[dict]:
    lines = server.log_path.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith('{"_aws"')]


def test_drift_reaches_cloudwatch_as_emf_lines(sklearn_bundle: Built, log_dir: Path) -> None:
    env = {
        "INFERSTACK_CLOUDWATCH_EMF": "true",
        "INFERSTACK_CLOUDWATCH_EMF_INTERVAL_S": "0.2",
        "INFERSTACK_DRIFT_MIN_ROWS": "50",
        "SAGEMAKER_ENDPOINT_NAME": "churn-prod",
        "INFERSTACK_VARIANT": "primary",
    }
    shifted = sklearn_bundle[2][:300].copy()
    shifted[:, 3] += 6.0
    with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server:
        time.sleep(0.6)
        assert not _emf_lines(server), "an EMF line before any drift data"
        assert server.post("/predict", json={"instances": shifted.tolist()}).status_code == 200
        deadline = time.monotonic() + 10
        while not _emf_lines(server) and time.monotonic() < deadline:
            time.sleep(0.05)
        record = _emf_lines(server)[-1]
    directive, tests = record["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == tests["Namespace"] == "inferstack"
    assert directive["Dimensions"] == tests["Dimensions"] == [["EndpointName", "VariantName"]]
    names = [m["Name"] for m in directive["Metrics"]]
    assert names[0] == "DriftScore"
    assert set(names[1:]) == {f"DriftScore.f{j}" for j in range(20)}
    names = [m["Name"] for m in tests["Metrics"]]
    assert names[:3] == ["PredictionDriftScore", "PredictionDriftPValue", "DriftPValue"]
    assert set(names[3:]) == {f"DriftPValue.f{j}" for j in range(20)}
    assert record["DriftPValue"] == record["DriftPValue.f3"] < 1e-6  # KS sees the shift
    assert record["DriftPValue.f4"] > 1e-3
    assert record["PredictionDriftScore"] >= 0
    assert 0 <= record["PredictionDriftPValue"] <= 1
    assert (record["EndpointName"], record["VariantName"]) == ("churn-prod", "primary")
    assert record["DriftScore"] == record["DriftScore.f3"] > 1.0
    assert record["DriftScore.f4"] < 0.25
    assert (record["model"], record["version"]) == ("logreg-20f", "1.0.0")


def test_the_deployment_names_the_served_model(sklearn_bundle: Built, log_dir: Path) -> None:
    """INFERSTACK_MODEL_NAME (set by the targets from the spec) replaces the bundle's name
    on the V2 routes and in the metrics labels."""
    env = {"INFERSTACK_MODEL_NAME": "churn-logreg"}
    with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server:
        meta = httpx.get(f"{server.url}/v2/models/churn-logreg", timeout=5)
        assert meta.status_code == 200, meta.text
        assert meta.json()["name"] == "churn-logreg"
        row = [0.1] * 20
        body = {"inputs": [{"name": "input", "shape": [1, 20], "datatype": "FP64", "data": row}]}
        answer = httpx.post(f"{server.url}/v2/models/churn-logreg/infer", json=body, timeout=5)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_name"] == "churn-logreg"
        old = httpx.get(f"{server.url}/v2/models/logreg-20f", timeout=5)
        assert old.status_code == 404
        metrics = httpx.get(f"{server.url}/metrics", timeout=5).text
        assert 'model="churn-logreg"' in metrics
        assert 'model="logreg-20f"' not in metrics


def test_ks_pvalues_and_prediction_drift_from_a_real_server(
    sklearn_bundle: Built, log_dir: Path
) -> None:
    bundle_dir, predict_proba, rows = sklearn_bundle
    assert (bundle_dir / "reference.npz").is_file()  # KS samples ship beside the manifest
    coef = np.abs(predict_proba.__self__.coef_[0])
    moved, still = int(coef.argmax()), int(coef.argmin())
    env = {
        "INFERSTACK_DRIFT_WINDOW": str(len(rows)),
        "INFERSTACK_DRIFT_MIN_ROWS": "50",
        "INFERSTACK_DRIFT_PERIOD_S": "0",
    }

    def pvalue(text: str, j: int) -> float:
        return metric_value(text, "inferstack_drift_pvalue", feature=f"f{j}", test="ks", **MV)

    with RuntimeServer(bundle_dir, log_dir, env=env) as server:
        for chunk in np.array_split(rows, 5):  # held-out rows: the reference's distribution
            assert server.post("/predict", json={"instances": chunk.tolist()}).status_code == 200
        text = server.get("/metrics").text
        assert pvalue(text, moved) > 1e-3
        assert pvalue(text, still) > 1e-3
        calm = metric_value(text, "inferstack_prediction_drift_score", **MV)
        assert calm < 0.1

        shifted = rows.copy()
        shifted[:, moved] += 3 * rows[:, moved].std()
        for chunk in np.array_split(shifted, 5):  # fills the whole window
            assert server.post("/predict", json={"instances": chunk.tolist()}).status_code == 200
        text = server.get("/metrics").text
        assert pvalue(text, moved) < 1e-6
        assert pvalue(text, still) > 1e-3  # the same values as before: still quiet
        assert (
            metric_value(text, "inferstack_drift_statistic", feature=f"f{moved}", test="ks", **MV)
            > 0.5
        )
        assert metric_value(text, "inferstack_prediction_drift_score", **MV) > max(0.25, 5 * calm)
        assert metric_value(text, "inferstack_prediction_drift_pvalue", test="ks", **MV) < 1e-6


def test_drift_and_the_anomaly_check_turn_off_one_at_a_time(
    sklearn_bundle: Built, log_dir: Path
) -> None:
    rows = sklearn_bundle[2]
    outside = rows[:100].copy()
    outside[:, 0] += 1e6  # every first value far outside the reference range
    for env, drift, anomalies in (
        ({"INFERSTACK_DRIFT": "false"}, False, True),
        ({"INFERSTACK_ANOMALY_CHECK": "false"}, True, False),
    ):
        env = {**env, "INFERSTACK_DRIFT_MIN_ROWS": "50"}
        with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server:
            assert server.post("/predict", json={"instances": outside.tolist()}).status_code == 200
            lines = server.get("/metrics").text.splitlines()
            assert _has(lines, "inferstack_drift_score", 'feature="f0"') is drift, env
            found = _has(lines, "inferstack_anomalous_values_total", 'feature="f0"')
            assert found is anomalies, env


def _has(lines: list[str], metric: str, label: str) -> bool:
    return any(line.startswith(metric + "{") and label in line for line in lines)
