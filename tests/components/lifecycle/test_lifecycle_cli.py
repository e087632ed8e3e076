"""The lifecycle commands as users run them: JSON output, exit codes, and a real SIGINT
to a promote in the middle of a bake."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from typer.testing import CliRunner

from inferstack.components.cli.app import app
from tests.components.lifecycle.conftest import STACK, Endpoint, Project

ROOT = Path(__file__).resolve().parents[3]


def test_versions_json(project: Project, endpoint: Endpoint) -> None:
    result = CliRunner().invoke(app, ["versions", STACK, "--json", "--project", str(project.root)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["version"], r["state"], r["share"]) for r in rows] == [
        ("1.0.0", "serving", 1.0),
        ("1.1.0", "standby", 0.0),
    ]


def test_promote_rolled_back_by_an_alarm_exits_1(project: Project, endpoint: Endpoint) -> None:
    endpoint.alarm(endpoint.alarms[-1])
    args = ["promote", STACK, "1.1.0", "--json", "--poll-s", "0.01", "--project", str(project.root)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert body["outcome"] == "rolled_back"
    assert body["alarms"] == [endpoint.alarms[-1]]
    assert endpoint.weights() == {"primary": 1.0, "candidate": 0.0}


def test_schema_mismatch_exits_2_and_names_fields(project: Project, endpoint: Endpoint) -> None:
    from tests.components.lifecycle.conftest import write_bundle

    write_bundle(project.root / "bundles" / "v1.1.0", "1.1.0", ["x"])
    args = ["promote", STACK, "1.1.0", "--project", str(project.root)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "features added: x" in " ".join(result.stderr.split())


def test_bad_steps_are_named(project: Project, endpoint: Endpoint) -> None:
    args = ["promote", STACK, "1.1.0", "--steps", "50,20", "--project", str(project.root)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert "--steps: percents must increase" in result.stderr


def test_ctrl_c_during_promote_restores_traffic_and_the_config(project: Project) -> None:
    weights = project.root / "weights.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.components.lifecycle.promote_under_moto",
            str(project.root),
            str(weights),
            "promote",
            STACK,
            "1.1.0",
            "--steps",
            "50",
            "--poll-s",
            "0.05",
            "--json",
            "--project",
            str(project.root),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    for line in process.stderr:
        if "BAKING" in line or time.monotonic() > deadline:
            break
    time.sleep(0.3)  # inside the 600 s bake of the 50% step
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    body = json.loads(stdout)
    assert body["outcome"] == "interrupted"
    assert body["steps_done"] == [50.0]
    assert "traffic is back as it was" in body["message"]
    assert json.loads(weights.read_text()) == {"primary": 1.0, "candidate": 0.0}
    deployment = yaml.safe_load(project.config.read_text())["config"]["inferstack:deployment"]
    assert deployment["rollout"]["primary_weight"] == 1.0
    assert deployment["rollout"]["variants"][0]["weight"] == 0.0


def test_ab_report_json_and_table_from_prometheus(tmp_path: Path, metrics_server: str) -> None:
    from tests.components.lifecycle.test_local import _project

    _project(tmp_path, ROOT)
    urls = [f"--metrics={metrics_server}/{v}/metrics" for v in ("1.0.0", "1.1.0")]
    base = ["ab-report", "local", *urls, "--project", str(tmp_path)]
    result = CliRunner().invoke(app, [*base, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["source"] == "prometheus text"
    assert body["baseline"] == "1.0.0"
    tests = {c["metric"]: c["test"] for c in body["comparisons"]}
    assert tests == {"error rate": "two-proportion z", "latency ms": "Welch's t"}
    table = CliRunner().invoke(app, base, env={"COLUMNS": "200"})
    assert table.exit_code == 0, table.output
    assert "A/B readout of stack local (prometheus text)" in table.stdout
    assert "significant" in table.stdout
    gke = CliRunner().invoke(app, ["ab-report", "prod-gke", "--project", str(ROOT)])
    assert gke.exit_code == 2
    assert "--prometheus URL" in " ".join(gke.stderr.split())
