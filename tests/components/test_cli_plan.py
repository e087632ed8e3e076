"""`inferstack plan` on broken stack files: exit 2 and one line naming the field."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.components.plan.run import run_plan
from inferstack.policies import Subject, evaluate
from tests.conftest import ROOT


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferstack.components.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def broken_project(tmp_path: Path, stack: str, edit: Any) -> Path:
    """A copy of the project whose `stack` config was changed by `edit(deployment)`."""
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    shutil.copytree(ROOT / "examples" / "logreg-20f", tmp_path / "examples" / "logreg-20f")
    path = tmp_path / "stacks" / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    edit(document["config"]["inferstack:deployment"])
    path.write_text(yaml.safe_dump(document))
    return tmp_path


def _set(path: str, value: Any) -> Any:
    def edit(deployment: dict[str, Any]) -> None:
        *parents, leaf = path.split(".")
        node = deployment
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value

    return edit


@pytest.mark.parametrize(
    ("stack", "edit", "expected"),
    [
        ("prod-aws", _set("compute.gpus", 2), "deployment.compute.gpus: unknown key"),
        (
            "prod-aws",
            _set("scaling.min_replicas", 9),
            "deployment.scaling: min_replicas (9) is greater than max_replicas (8)",
        ),
        (
            "prod-aws",
            _set("compute.accelerator", "nvidia-k80"),
            "deployment.compute.accelerator: Input should be 'none', 'nvidia-t4'",
        ),
        (
            "prod-aws",
            _set("gateway.auth", "none"),
            "deployment.gateway.auth: 'none' is not allowed in prod",
        ),
        (
            "prod-azure",
            _set("gateway.auth", "none"),
            "deployment.gateway.auth: 'none' is not allowed in prod",
        ),
        (
            "local",
            _set("compute.accelerator", "gpu"),
            "deployment.compute.accelerator: Input should be",
        ),
        (
            "local",
            _set("model.version", "2.0.0"),
            "deployment.model.version: '2.0.0' does not match the bundle's '1.0.0'",
        ),
        (
            "local",
            _set("model.framework", "xgboost"),
            "deployment.model.framework: 'xgboost' does not match the bundle's 'sklearn'",
        ),
        (
            "local",
            _set("model.input_schema", [{"name": f"f{i}", "dtype": "float64"} for i in range(19)]),
            "deployment.model.input_schema: the spec lists 19 features, the bundle 20",
        ),
        (
            "local",
            _set("model.input_schema", [{"name": "f0", "dtype": "float32"}]),
            "deployment.model.input_schema: feature 0 is ('f0', 'float32') in the spec but "
            "('f0', 'float64') in the bundle",
        ),
        (
            "dev-aws",
            _set("model.artifact", "examples/no-such-bundle"),
            "deployment.model.artifact: no bundle folder at",
        ),
    ],
)
def test_broken_stack_config_exits_2_with_one_line(
    tmp_path: Path, stack: str, edit: Any, expected: str
) -> None:
    project = broken_project(tmp_path, stack, edit)
    result = run_cli("plan", stack, "--project", str(project))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"Pulumi.{stack}.yaml: {expected}" in lines[0]
    assert "Traceback" not in result.stderr


def test_unknown_stack_lists_the_known_ones() -> None:
    result = run_cli("plan", "staging-mars")
    assert result.returncode == 2
    assert "no stack 'staging-mars'" in result.stderr
    assert "prod-aws" in result.stderr


def test_invalid_yaml_is_reported(tmp_path: Path) -> None:
    project = broken_project(tmp_path, "local", lambda d: None)
    (project / "stacks" / "Pulumi.local.yaml").write_text("config: [unclosed\n")
    result = run_cli("plan", "local", "--project", str(project))
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: stacks/Pulumi.local.yaml: not valid YAML:")


def test_targets_without_a_component_say_so() -> None:
    from inferstack.components.endpoint import component_class
    from inferstack.components.errors import TargetNotImplementedError
    from inferstack.components.spec.options import TargetOptions
    from inferstack.components.target import Target, TargetProfile
    from inferstack.components.targets import registered

    unbuilt = Target(
        name="unbuilt",
        profile=TargetProfile(name="unbuilt", default_region=None, instance_types={"none": "x"}),
        options=TargetOptions,
    )
    with registered(unbuilt), pytest.raises(TargetNotImplementedError) as info:
        component_class("unbuilt")
    assert "target 'unbuilt' is not implemented yet" in str(info.value)
    assert "gcp" in str(info.value).split("implemented targets:")[1]


def test_help_lists_every_command_with_one_line() -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("plan", "doctor", "outputs"):
        assert command in result.stdout


def test_mandatory_policy_violation_exits_3(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: demo\nruntime: python\nmain: stacks/\nstackConfigDir: stacks\n"
    )
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / "stacks" / "__main__.py").write_text(
        "import pulumi_aws as aws\naws.cloudwatch.LogGroup('forever')\n"
    )
    result = run_cli("plan", "dev", "--project", str(tmp_path))
    assert result.returncode == 3, result.stderr
    assert "mandatory log-retention [forever]: log group keeps logs forever" in result.stderr
    assert "aws:cloudwatch/logGroup:LogGroup" in result.stdout

    skipped = run_cli("plan", "dev", "--project", str(tmp_path), "--no-policies")
    assert skipped.returncode == 0, skipped.stderr


def test_plan_prints_a_nested_tree_and_masks_secrets() -> None:
    result = run_cli("plan", "local")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Offline plan of stack local (Pulumi mock runtime; not")
    lines = result.stdout.splitlines()
    component = next(i for i, line in enumerate(lines) if "LocalEndpoint local" in line)
    child = next(line for line in lines if "Container local-runtime" in line)
    depth = lines[component].index("inferstack:")
    assert child.index("docker:") > depth
    assert "output api_key: [secret]" in result.stdout


@pytest.mark.parametrize("stack", ["local", "dev-aws", "prod-aws"])
def test_shipped_stacks_pass_the_policy_pack(stack: str) -> None:
    plan = run_plan(stack)
    assert plan.resources
    assert evaluate(Subject(r.type, r.name, r.inputs, r.urn) for r in plan.resources) == []
