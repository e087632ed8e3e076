"""The GitHub workflows: valid YAML, preview on pull requests, up on merge, real stacks."""

from __future__ import annotations

import re

import yaml

from inferstack.components.spec.config import stack_names
from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def test_preview_runs_on_pull_requests_and_up_on_merges() -> None:
    assert "pull_request" in load("preview.yml")["on"]
    deploy = load("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    steps = [s for job in deploy["jobs"].values() for s in job["steps"]]
    assert any(s.get("with", {}).get("command") == "up" for s in steps)


def test_workflows_name_existing_stacks_and_make_targets() -> None:
    stacks = set(stack_names(ROOT))
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M))
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        for job in load(path.name)["jobs"].values():
            for entry in job.get("strategy", {}).get("matrix", {}).get("stack", []):
                assert entry in stacks, (path.name, entry)
            for entry in job.get("strategy", {}).get("matrix", {}).get("include", []):
                assert entry["stack"] in stacks, (path.name, entry)
        for target in re.findall(r"\bmake ([a-z-]+)", text):
            assert target in targets, (path.name, target)


def test_deploys_use_oidc_not_stored_keys() -> None:
    for name in ("preview.yml", "deploy.yml"):
        assert load(name)["permissions"]["id-token"] == "write"
        assert "AWS_SECRET_ACCESS_KEY" not in (WORKFLOWS / name).read_text()
