"""The retraining example: its workflow is lint-clean and consumes the event as the schema
defines it; its script retrains on the committed CSV and bundles the next version."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from inferstack.components.monitoring.retrain_event import retrain_schema, webhook_body
from inferstack.runtime.contract import RETRAIN_EVENT_TYPE
from inferstack.runtime.manifest import read_manifest
from tests.tools import require_tool

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "retraining"
WORKFLOW = EXAMPLE / "workflow.yml"
BUNDLE = ROOT / "examples" / "logreg-20f" / "bundle"


def test_the_workflow_passes_actionlint_with_shellcheck() -> None:
    actionlint, shellcheck = require_tool("actionlint"), require_tool("shellcheck")
    path = f"{Path(shellcheck).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    result = subprocess.run(
        [actionlint, "-shellcheck", shellcheck, str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": path},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_workflow_runs_on_the_event_the_webhooks_send() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    # YAML 1.1 (PyYAML) reads the key `on` as true
    assert workflow[True] == {"repository_dispatch": {"types": [RETRAIN_EVENT_TYPE]}}
    assert webhook_body({})["event_type"] == RETRAIN_EVENT_TYPE


def test_the_workflow_reads_only_fields_the_schema_defines() -> None:
    text = WORKFLOW.read_text()
    used = set(re.findall(r"github\.event\.client_payload\.([a-z_.]+)", text))
    assert used
    schema = retrain_schema()
    for path in used:
        node = schema
        for part in path.split("."):
            assert part in node["properties"], path
            node = node["properties"][part]


def test_event_fields_never_reach_a_run_step_unquoted() -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    for step in workflow["jobs"]["retrain"]["steps"]:
        assert "client_payload" not in step.get("run", ""), step.get("name")


def _train(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLE / "train.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=600,
    )


def test_the_script_retrains_and_bundles_the_next_version(tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    data = EXAMPLE / "data" / "latest.csv"
    result = _train("--data", str(data), "--bundle", str(BUNDLE), "--out", str(out))
    assert result.returncode == 0, result.stderr
    current = read_manifest(BUNDLE)
    manifest = read_manifest(out)
    assert (manifest.name, manifest.version) == (current.name, "1.1.0")
    assert current.version == "1.0.0"
    assert manifest.input.names == current.input.names
    assert manifest.reference is not None  # --reference: profiles of the training rows
    assert f"version=1.1.0\nbundle={out}" in result.stdout


def test_data_without_a_feature_is_refused_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    lines = (EXAMPLE / "data" / "latest.csv").read_text().splitlines()
    header = lines[0].split(",")
    keep = [i for i, name in enumerate(header) if name != "f7"]
    bad.write_text(
        "\n".join(",".join(row.split(",")[i] for i in keep) for row in lines[:40]) + "\n"
    )
    result = _train("--data", str(bad), "--bundle", str(BUNDLE), "--out", str(tmp_path / "b"))
    assert result.returncode == 2
    assert "has no column(s) f7" in result.stderr


@pytest.mark.parametrize(("current", "expected"), [("1.0.0", "1.1.0"), ("2.9.3", "2.10.0")])
def test_versions_bump_the_minor(current: str, expected: str) -> None:
    sys.path.insert(0, str(EXAMPLE))
    try:
        from train import next_version  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EXAMPLE))
    assert next_version(current) == expected
