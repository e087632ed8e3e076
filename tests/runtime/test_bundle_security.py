"""A bundle is code, on real servers and the real ``inferstack bundle`` command: a pickle
that writes a marker file runs neither at bundle nor at serve without the opt-in, a
changed artifact is refused, and CSV keeps quoted newlines and escapes formulas."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from inferstack.runtime import bundle
from tests.runtime.pickles import WIDTH, marker_pickle
from tests.runtime.server import RuntimeServer

INFERSTACK = [sys.executable, "-m", "inferstack.components.cli"]


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*INFERSTACK, *map(str, args)], capture_output=True, text=True, timeout=180, check=False
    )


def _refused(server: RuntimeServer, needle: str, timeout: float = 60.0) -> str:
    """Wait until the server logs that the model failed to load; returns the log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        logs = server.log_path.read_text(errors="replace")
        if "model failed to load" in logs:
            assert needle in logs, logs[-2000:]
            return logs
        time.sleep(0.2)
    raise AssertionError(f"no load failure logged: {server.logs()}")


def test_bundle_help_says_a_pickle_is_code() -> None:
    out = cli("bundle", "--help")
    assert out.returncode == 0, out.stderr
    text = " ".join(out.stdout.split())
    assert "A pickle is code" in text
    assert "--allow-pickle" in text


def test_cli_does_not_run_a_pickle_without_the_opt_in(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = marker_pickle(tmp_path / "model.joblib", marker)
    args = ("--framework", "sklearn", "--name", "m", "--version", "1.0.0")
    refused = cli("bundle", evil, *args, "--out", tmp_path / "a")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "is a pickle" in refused.stdout + refused.stderr
    assert "--allow-pickle" in refused.stdout + refused.stderr
    assert not marker.exists(), "inferstack bundle ran the pickle without the opt-in"
    allowed = cli("bundle", evil, *args, "--out", tmp_path / "b", "--allow-pickle")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert marker.exists(), "with --allow-pickle the probe loads it"


def test_server_does_not_run_a_pickle_without_the_opt_in(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    folder = tmp_path / "hand-made"
    folder.mkdir()
    marker_pickle(folder / "model.joblib", marker)
    manifest = {
        "name": "m",
        "version": "1.0.0",
        "framework": "sklearn",
        "artifact": "model.joblib",
        "input": {"shape": [WIDTH]},
    }
    (folder / "inferstack.yaml").write_text(yaml.safe_dump(manifest))
    with RuntimeServer(folder, tmp_path).start(wait_ready=False) as server:
        logs = _refused(server, "artifact 'model.joblib' is a pickle (joblib)")
        assert "INFERSTACK_ALLOW_PICKLE=true" in logs
        assert server.get("/ping").status_code == 503
        answer = server.post("/invocations", json=[[0.0] * WIDTH])
        assert answer.status_code == 503
    assert not marker.exists(), "the server ran the pickle without the opt-in"

    # Bundled with the opt-in (recorded in the manifest): it loads, runs, and serves.
    opted = bundle(
        folder / "model.joblib",
        framework="sklearn",
        name="m",
        version="1.0.0",
        out=tmp_path / "opted",
        allow_pickle=True,
    )
    marker.unlink()
    with RuntimeServer(opted, tmp_path) as server:
        assert server.post("/invocations", json=[[0.0] * WIDTH]).status_code == 200
    assert marker.exists()


def test_server_refuses_an_artifact_changed_since_bundling(
    sklearn_bundle: tuple[Path, object, object], tmp_path: Path
) -> None:
    copy = shutil.copytree(sklearn_bundle[0], tmp_path / "bundle")
    artifact = read_artifact(copy)
    with (copy / artifact).open("ab") as f:
        f.write(b"\0")
    with RuntimeServer(copy, tmp_path).start(wait_ready=False) as server:
        _refused(server, f"bundle file '{artifact}' changed since bundling")
        assert server.get("/ping").status_code == 503


def read_artifact(folder: Path) -> str:
    return str(yaml.safe_load((folder / "inferstack.yaml").read_text())["artifact"])


ECHO = '''
import numpy as np


class Echo:
    """Answers each row's text and a negative number."""

    def predict(self, batch):
        return np.array([[row[0], -1.5] for row in batch], dtype=object)
'''


def test_csv_keeps_quoted_newlines_and_escapes_formulas(tmp_path: Path) -> None:
    (tmp_path / "echo.py").write_text(ECHO)
    path = bundle(
        f"{tmp_path / 'echo.py'}:Echo",
        framework="custom",
        name="echo",
        version="1.0.0",
        out=tmp_path / "bundle",
        features=[{"name": "text", "dtype": "string"}],
    )
    body = '"line one\nline two"\n"=HYPERLINK(""http://x"")"\n@SUM(A1)\n+1+2\n-2+3\nplain\n'
    with RuntimeServer(path, tmp_path) as server:
        answer = server.post(
            "/invocations", content=body, headers={"Content-Type": "text/csv", "Accept": "text/csv"}
        )
        assert answer.status_code == 200, answer.text
        rows = list(csv.reader(io.StringIO(answer.text, newline="")))
        json_answer = server.post("/invocations", json=[["=1+2"]]).json()
    assert rows == [
        ["line one\nline two", "-1.5"],
        ['\'=HYPERLINK("http://x")', "-1.5"],
        ["'@SUM(A1)", "-1.5"],
        ["'+1+2", "-1.5"],
        ["'-2+3", "-1.5"],
        ["plain", "-1.5"],
    ]
    assert json_answer["predictions"][0][0] == "=1+2"  # JSON answers are not altered
