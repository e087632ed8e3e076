"""The local target under Pulumi's mock runtime, and promtool on its generated rules."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.components.plan.run import run_under_mocks
from inferstack.components.spec.models import DeploymentSpec

ROOT = Path(__file__).resolve().parents[3]
BUNDLE = ROOT / "examples" / "logreg-20f" / "bundle"


@pytest.fixture(autouse=True)
def _context_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stage image build contexts under a temp folder, not the user's cache or the
    checkout."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("INFERSTACK_BUILD_DIR", str(tmp_path_factory.getbasetemp() / "build"))


@pytest.fixture(scope="session")
def promtool() -> str:
    """The promtool binary (Debian's `prometheus` package); required in CI."""
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("promtool is missing in CI (apt-get install prometheus)", pytrace=False)
        pytest.skip("promtool is not installed (apt-get install prometheus)")
    return path


def local_spec(**changes: Any) -> DeploymentSpec:
    """The `local` stack's spec with `changes` merged in (nested dicts merge)."""
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())
    data = config["config"]["inferstack:deployment"]
    data["model"]["artifact"] = str(BUNDLE)
    for key, value in changes.items():
        if isinstance(value, dict):
            data[key] = {**data.get(key, {}), **value}
        else:
            data[key] = value
    return DeploymentSpec.model_validate(data)


class Declared:
    """What a program declared under the mocks: raw inputs (secrets unwrapped) by name."""

    def __init__(self) -> None:
        self.inputs: dict[str, dict[str, Any]] = {}
        self.types: dict[str, str] = {}
        self.outputs: dict[str, Any] = {}
        self.secret_outputs: set[str] = set()

    def of_type(self, suffix: str) -> dict[str, dict[str, Any]]:
        """Inputs of the resources whose type token ends with `suffix`."""
        return {n: i for n, i in self.inputs.items() if self.types[n].endswith(suffix)}


def declare(build: Callable[[], dict[str, Any]]) -> Declared:
    """Run `build` (which declares resources, returns named Outputs) under the mocks."""
    plan = run_under_mocks(build, stack="local")
    declared = Declared()
    for resource in plan.resources:
        declared.inputs[resource.name] = resource.raw_inputs
        declared.types[resource.name] = resource.type
    declared.outputs = plan.result or {}
    declared.secret_outputs = set(plan.secret_results)
    return declared


@pytest.fixture
def registrations(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Every RegisterResource request of the next runs under the mocks, by name: the
    resource options (aliases, deleteBeforeReplace, replaceOnChanges, retainOnDelete)
    that `PlannedResource` does not carry."""
    from pulumi.runtime.mocks import MockMonitor

    seen: dict[str, Any] = {}
    original = MockMonitor.RegisterResource

    def record(self: MockMonitor, request: Any) -> Any:
        seen[request.name] = request
        return original(self, request)

    monkeypatch.setattr(MockMonitor, "RegisterResource", record)
    return seen
