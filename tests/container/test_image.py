"""The quickstart image: contracts, auth, metrics, user, labels and a clean stop."""

from __future__ import annotations

import importlib.util
import json
import threading
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from inferstack.runtime.manifest import read_manifest
from tests.container.conftest import (
    API_KEY,
    BUNDLE,
    ROOT,
    Running,
    docker,
    remove_container,
    start_container,
)

AUTH = {"X-Api-Key": API_KEY}


def _quickstart_model() -> Any:
    """The quickstart bundle's model, loaded in process (skops, its own types trusted)."""
    import skops.io as sio

    path = BUNDLE / str(read_manifest(BUNDLE).artifact)
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(
        f"example_{name.replace('-', '_')}", ROOT / "examples" / name / "train.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    """Held-out rows of the quickstart model's own data."""
    x, _ = _example("logreg-20f").data()
    return np.asarray(x[1500:1532])


def test_ping_and_v2_readiness(served: Running) -> None:
    assert served.client.get("/ping").status_code == 200
    assert served.client.get("/v2/health/ready").status_code == 200
    assert served.client.get("/v2/health/live").status_code == 200


def test_invocations_equal_in_process_model(served: Running, rows: np.ndarray) -> None:
    model = _quickstart_model()
    response = served.client.post("/invocations", json={"instances": rows.tolist()}, headers=AUTH)
    assert response.status_code == 200, response.text
    served_proba = np.asarray(response.json()["predictions"])
    np.testing.assert_allclose(served_proba, model.predict_proba(rows), rtol=1e-6, atol=1e-9)


def test_v2_infer_route(served: Running, rows: np.ndarray) -> None:
    name = read_manifest(BUNDLE).name
    model = _quickstart_model()
    x = rows[:3]
    request = {
        "id": "c-1",
        "inputs": [
            {
                "name": "input-0",
                "shape": list(x.shape),
                "datatype": "FP64",
                "data": x.ravel().tolist(),
            }
        ],
    }
    response = served.client.post(
        f"/v2/models/{name}/infer", json=request, headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "c-1"
    assert body["model_name"] == name
    out = body["outputs"][0]
    got = np.asarray(out["data"]).reshape(out["shape"])
    np.testing.assert_allclose(got, model.predict_proba(x), rtol=1e-6, atol=1e-9)


def test_api_key_required(served: Running, rows: np.ndarray) -> None:
    body = {"instances": rows[:1].tolist()}
    assert served.client.post("/invocations", json=body).status_code == 401
    wrong = served.client.post("/invocations", json=body, headers={"X-Api-Key": "nope"})
    assert wrong.status_code == 401
    assert served.client.post("/invocations", json=body, headers=AUTH).status_code == 200


def test_metrics_count_the_requests(served: Running, rows: np.ndarray) -> None:
    for _ in range(3):
        served.client.post("/invocations", json={"instances": rows[:2].tolist()}, headers=AUTH)
    text = served.client.get("/metrics").text
    counted = [
        line
        for line in text.splitlines()
        if line.startswith("inferstack_requests_total{")
        and 'route="/invocations"' in line
        and 'code="200"' in line
    ]
    assert counted
    assert float(counted[0].rsplit(" ", 1)[1]) >= 3
    for name in (
        "inferstack_request_duration_seconds_bucket",
        "inferstack_batch_size_bucket",
        "inferstack_model_info",
        "inferstack_queue_depth",
    ):
        assert name in text, name


def test_runs_as_non_root_with_labels(served: Running, runtime_image: str) -> None:
    uid = docker("exec", served.id, "id", "-u").stdout.strip()
    assert uid != "0"
    assert uid.isdigit()
    pid1_uid = docker("exec", served.id, "stat", "-c", "%u", "/proc/1").stdout.strip()
    assert pid1_uid == uid
    config = json.loads(docker("image", "inspect", runtime_image).stdout)[0]["Config"]
    manifest = read_manifest(BUNDLE)
    assert config["User"] not in ("", "0", "root")
    assert config["Labels"]["dev.inferstack.model.name"] == manifest.name
    assert config["Labels"]["dev.inferstack.model.version"] == manifest.version
    assert config["Labels"]["dev.inferstack.version"]


def test_docker_healthcheck_turns_healthy(served: Running) -> None:
    status = ""
    for _ in range(100):
        status = docker("inspect", "--format", "{{.State.Health.Status}}", served.id).stdout
        if status.strip() == "healthy":
            break
        threading.Event().wait(0.2)
    assert status.strip() == "healthy"


def test_mounted_onnx_bundle(runtime_image: str, tmp_path: Path) -> None:
    """A bundle mounted at /opt/ml/model replaces the baked one; onnxruntime, which the
    build added as a requirement to the scikit-learn image, works."""
    bundle, scorer, x = _example("onnx-logreg").build(tmp_path / "onnx-logreg")
    bundle.chmod(0o755)
    running = start_container(runtime_image, "--volume", f"{bundle}:/opt/ml/model:ro")
    try:
        response = running.client.post(
            "/invocations", json={"instances": x[:4].tolist()}, headers=AUTH
        )
        assert response.status_code == 200, response.text
        np.testing.assert_allclose(
            np.asarray(response.json()["predictions"]), scorer(x[:4]), rtol=1e-5
        )
    finally:
        remove_container(running)


SLOW_PREDICTOR = """
import time

import numpy as np


class SlowSum:
    def predict(self, batch):
        time.sleep(1.0)
        return np.asarray(batch, dtype=np.float64).sum(axis=1, keepdims=True)
"""


def _slow_bundle(folder: Path) -> Path:
    """A custom-predictor bundle whose model call takes a second (row sums)."""
    folder.mkdir(mode=0o755)
    (folder / "slow.py").write_text(SLOW_PREDICTOR)
    manifest = {
        "name": "slow-sum",
        "version": "1.0.0",
        "framework": "custom",
        "predictor": "slow:SlowSum",
        "input": {"features": ["a", "b"]},
        "output": {"kind": "raw"},
    }
    (folder / "inferstack.yaml").write_text(json.dumps(manifest))
    return folder


def test_docker_stop_during_requests_loses_none(runtime_image: str, tmp_path: Path) -> None:
    # A model call takes a second, so all 16 requests are in flight when SIGTERM arrives.
    bundle = _slow_bundle(tmp_path / "slow")
    running = start_container(runtime_image, "--volume", f"{bundle}:/opt/ml/model:ro")
    results: dict[int, int | str] = {}
    lock = threading.Lock()
    clients = [httpx.Client(base_url=running.url, timeout=30) for _ in range(16)]

    def call(i: int) -> None:
        try:
            response = clients[i].post("/invocations", headers=AUTH, json={"instances": [[i, 1.5]]})
            outcome: int | str = response.status_code
            if outcome == 200:
                assert response.json()["predictions"] == [[i + 1.5]]
        except httpx.HTTPError as err:
            outcome = repr(err)
        with lock:
            results[i] = outcome

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    try:
        for thread in threads:
            thread.start()
        # 16 requests plus the /metrics request that reads the gauge.
        assert _inflight(running, want=17) >= 17, "requests never reached the server"
        stop = docker("stop", "--time", "30", running.id)
        assert stop.returncode == 0
        for thread in threads:
            thread.join(timeout=30)
        assert results == dict.fromkeys(range(16), 200), results
        state = json.loads(docker("inspect", running.id).stdout)[0]["State"]
        assert state["ExitCode"] == 0, running.logs()  # drained, not killed (137)
    finally:
        for client in clients:
            client.close()
        remove_container(running)


def _inflight(running: Running, want: int, timeout_s: float = 10.0) -> float:
    """`inferstack_inflight_requests` once it reaches `want` (or at `timeout_s`)."""
    value = 0.0
    for _ in range(int(timeout_s / 0.02)):
        for line in running.client.get("/metrics").text.splitlines():
            if line.startswith("inferstack_inflight_requests{"):
                value = float(line.rsplit(" ", 1)[1])
        if value >= want:
            break
        threading.Event().wait(0.02)
    return value


def test_image_size_under_target(runtime_image: str) -> None:
    """The quickstart's CPU image (scikit-learn, pandas) stays under 400 MB uncompressed;
    the onnxruntime this suite's build adds is not counted."""
    size = int(docker("image", "inspect", "--format", "{{.Size}}", runtime_image).stdout)
    added = docker(
        "run",
        "--rm",
        "--network",
        "host",
        "--entrypoint",
        "sh",
        runtime_image,
        "-c",
        "du -sb /opt/venv/lib/python3*/site-packages/onnxruntime* | awk '{s+=$1} END {print s}'",
    )
    without = size - int(added.stdout.strip() or 0)
    assert without < 400_000_000, f"{without / 1e6:.0f} MB ({size / 1e6:.0f} MB with onnxruntime)"
