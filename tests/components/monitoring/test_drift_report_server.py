"""End to end: a real runtime server captures requests to a folder, and the drift report
over that folder flags exactly the features the traffic shifted."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from inferstack.components.cli.app import app
from tests.components.monitoring.conftest import LIVE_SEED, Bundle, draw
from tests.runtime.server import RuntimeServer

ROWS = 1200
PER_REQUEST = 100


def test_a_servers_capture_gives_the_report(drift_bundle: Bundle, tmp_path: Path) -> None:
    capture = tmp_path / "capture"
    env = {"INFERSTACK_CAPTURE_DIR": str(capture), "INFERSTACK_CAPTURE_SAMPLE_RATE": "1.0"}
    live = draw(ROWS, seed=LIVE_SEED, shift_a=0.6, colors=(0.2, 0.3, 0.5))
    rows = live.to_numpy().tolist()
    with RuntimeServer(drift_bundle.path, tmp_path, env=env) as server:
        for start in range(0, ROWS, PER_REQUEST):
            answer = server.post("/predict", json={"instances": rows[start : start + PER_REQUEST]})
            assert answer.status_code == 200, answer.text
    out = tmp_path / "report"
    done = CliRunner().invoke(
        app, ["drift-report", str(capture), "--bundle", str(drift_bundle.path), "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert f"{ROWS} of {ROWS} rows scored, 0 skipped" in done.output
    assert "drifted: color, a" in done.output or "drifted: a, color" in done.output
    assert (out / "drift-report.html").stat().st_size > 0
