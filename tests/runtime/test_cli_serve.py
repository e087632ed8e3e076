"""``inferstack serve`` (the typer command) and ``--workers``: real processes, real HTTP."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.runtime.conftest import Built
from tests.runtime.server import RuntimeServer, metric_value

# The `inferstack` command, run from this environment.
CLI = ["-m", "inferstack.components.cli"]


def test_serve_command_with_api_key_file_and_two_workers(
    sklearn_bundle: Built, log_dir: Path
) -> None:
    keys = log_dir / "keys"
    keys.write_text("team-key\n")
    server = RuntimeServer(sklearn_bundle[0], log_dir)
    server.args = [
        sys.executable,
        *CLI,
        "serve",
        str(sklearn_bundle[0]),
        "--host",
        "127.0.0.1",
        "--port",
        str(server.port),
        "--workers",
        "2",
        "--api-key-file",
        str(keys),
    ]
    server.start()
    try:
        row = sklearn_bundle[2][0].tolist()
        assert server.post("/predict", json={"instances": [row]}).status_code == 401
        for _ in range(10):
            ok = server.post(
                "/predict", json={"instances": [row]}, headers={"x-api-key": "team-key"}
            )
            assert ok.status_code == 200
        text = server.get("/metrics").text
        assert metric_value(text, "inferstack_requests_total", route="/predict", code="200") == 10
        assert metric_value(text, "inferstack_requests_total", route="/predict", code="401") == 1
    finally:
        code = server.stop()
    assert code == 0, server.logs()


def test_module_entry_point_usage_error() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "inferstack.runtime", "bogus"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "usage: python -m inferstack.runtime serve" in done.stderr


def test_sagemaker_contract_port_and_env(sklearn_bundle: Built, log_dir: Path) -> None:
    server = RuntimeServer(sklearn_bundle[0], log_dir)
    del server.env["INFERSTACK_PORT"]
    server.env["SAGEMAKER_BIND_TO_PORT"] = str(server.port)
    server.env["INFERSTACK_BUNDLE_DIR"] = str(sklearn_bundle[0])
    server.args = [sys.executable, "-m", "inferstack.runtime", "serve"]  # no BUNDLE_DIR argument
    server.start()
    try:
        assert server.get("/ping").status_code == 200
        row = ",".join(str(v) for v in sklearn_bundle[2][0])
        answer = server.post("/invocations", content=row, headers={"content-type": "text/csv"})
        assert answer.status_code == 200
        assert len(answer.json()["predictions"][0]) == 2
    finally:
        assert server.stop() == 0
