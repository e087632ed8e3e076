"""Rough edges: what answers without a key, start-up warnings, key files, log lines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inferstack.runtime import bundle
from tests.runtime.conftest import Built
from tests.runtime.server import RuntimeServer, free_port

KEY = "an-edge-test-key-of-32-characters"
BEARER = {"authorization": f"Bearer {KEY}"}
LOG_NOISE = """
import numpy as np

class Logs:
    def predict(self, x):
        return np.log(x[:, 0] - 10.0)  # negative input: numpy warns "invalid value"
"""


def _json_lines(text: str) -> list[dict[str, object]]:
    lines = [line for line in text.splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a log line is not JSON: {line[:300]!r}")
    return records


@pytest.fixture(scope="module")
def keyed(sklearn_bundle: Built, tmp_path_factory: pytest.TempPathFactory) -> RuntimeServer:
    logs = tmp_path_factory.mktemp("logs")
    env = {"INFERSTACK_API_KEY": KEY, "INFERSTACK_METRICS_AUTH": "true"}
    with RuntimeServer(sklearn_bundle[0], logs, env=env) as server:
        yield server  # type: ignore[misc]


def test_openapi_and_metrics_need_the_key_when_auth_is_on(keyed: RuntimeServer) -> None:
    assert keyed.get("/openapi.json").status_code == 401
    assert keyed.get("/v2/models/logreg-20f").status_code == 401
    doc = keyed.get("/openapi.json", headers=BEARER)
    assert doc.status_code == 200
    assert "f19" in doc.text
    assert keyed.get("/metrics").status_code == 401
    assert keyed.get("/metrics", headers=BEARER).status_code == 200
    assert keyed.get("/v2/health/ready").status_code == 200  # probes stay open


def test_ready_of_another_model_is_404_without_naming_the_served_one(
    keyed: RuntimeServer,
) -> None:
    for path in ("/v2/models/other/ready", "/v2/models/logreg-20f/versions/9.9.9/ready"):
        response = keyed.get(path)
        assert response.status_code == 404, response.text
        assert "logreg-20f" not in response.text.replace(path, "")
        assert "1.0.0" not in response.text
    assert keyed.get("/v2/models/logreg-20f/ready").status_code == 200


def test_long_paths_are_clipped_in_log_lines(keyed: RuntimeServer) -> None:
    long_path = "/" + "p" * 20_000
    response = keyed.get(long_path)
    assert response.status_code == 404
    assert len(response.text) < 1000
    lines = [r for r in _json_lines(keyed.log_path.read_text()) if r.get("status") == 404]
    assert lines, keyed.logs()
    assert all(len(json.dumps(r)) < 1500 for r in lines)


def test_auth_off_and_short_keys_warn_once(sklearn_bundle: Built, tmp_path: Path) -> None:
    cases = {
        "off": ({}, "API key auth is off"),
        "short": ({"INFERSTACK_API_KEY": "abcde"}, "an API key has only 5 characters"),
        "long": ({"INFERSTACK_API_KEY": KEY}, None),
    }
    for name, (env, expected) in cases.items():
        server = RuntimeServer(sklearn_bundle[0], tmp_path / name, env=env)
        (tmp_path / name).mkdir()
        with server:
            pass
        warnings = [
            r for r in _json_lines(server.log_path.read_text()) if "API key" in str(r["msg"])
        ]
        if expected is None:
            assert warnings == [], warnings
        else:
            assert [r["msg"] for r in warnings if expected in str(r["msg"])] == [
                warnings[0]["msg"]
            ], warnings
            assert len(warnings) == 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_empty_key_file_is_a_clear_error(
    sklearn_bundle: Built, tmp_path: Path, workers: str
) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# no keys yet\n\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "INFERSTACK_HOST": "127.0.0.1",
        "INFERSTACK_PORT": str(free_port()),
        "INFERSTACK_WORKERS": workers,
        "INFERSTACK_API_KEY_FILE": str(keys),
    }
    run = subprocess.run(
        [sys.executable, "-m", "inferstack.runtime", "serve", str(sklearn_bundle[0])],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 2, output
    assert "Traceback" not in output
    assert f"API key file '{keys}' holds no keys" in output


def test_numpy_runtime_warnings_are_json_log_lines(tmp_path: Path, log_dir: Path) -> None:
    (tmp_path / "noisy.py").write_text(LOG_NOISE)
    path = bundle(
        f"{tmp_path / 'noisy.py'}:Logs",
        framework="custom",
        name="noisy",
        version="1.0.0",
        out=tmp_path / "b",
        features=["a", "b"],
    )
    with RuntimeServer(path, log_dir, env={"INFERSTACK_LOG_LEVEL": "info"}) as server:
        response = server.post("/predict", json={"instances": [[1.0, 2.0]]})
        text = server.log_path.read_text()
    assert response.status_code == 200, response.text
    records = _json_lines(text)
    assert any(
        r.get("category") == "RuntimeWarning" and "invalid value" in str(r["msg"]) for r in records
    ), text
