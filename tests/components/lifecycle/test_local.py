"""The local target's lifecycle: promote and rollback rewrite the stack config (and say
that `pulumi up` must still run); versions reads a real Docker engine's containers and
images."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from inferstack.components.lifecycle.rollout import promote, rollback
from inferstack.components.lifecycle.schema import SchemaMismatchError
from inferstack.components.lifecycle.seam import LifecycleError
from inferstack.components.lifecycle.stacks import open_stack
from tests.components.lifecycle.conftest import write_bundle


def _project(root: Path, project_root: Path, model: str = "churn-logreg") -> Path:
    shutil.copy(project_root / "Pulumi.yaml", root / "Pulumi.yaml")
    (root / "stacks").mkdir()
    text = (project_root / "stacks" / "Pulumi.local.yaml").read_text()
    text = text.replace("artifact: examples/logreg-20f/bundle", "artifact: bundles/v1.0.0")
    text = text.replace("name: churn-logreg", f"name: {model}")
    config = root / "stacks" / "Pulumi.local.yaml"
    config.write_text(text)
    write_bundle(root / "bundles" / "v1.0.0", "1.0.0")
    write_bundle(root / "bundles" / "v1.1.0", "1.1.0")
    return config


def test_promote_and_rollback_rewrite_the_local_config(tmp_path: Path, project_root: Path) -> None:
    config = _project(tmp_path, project_root)
    before = config.read_text()
    stack = open_stack("local", tmp_path)
    with pytest.raises(LifecycleError, match="pass --bundle PATH"):
        promote(stack, "1.1.0")
    with pytest.raises(LifecycleError, match=r"is version 1\.1\.0, not 1\.2\.0"):
        promote(stack, "1.2.0", bundle=tmp_path / "bundles" / "v1.1.0")
    result = promote(stack, "1.1.0", bundle=tmp_path / "bundles" / "v1.1.0")
    assert result.outcome == "config_only"
    assert result.needs_pulumi_up
    assert "until `pulumi up -s local` replaces the container" in result.message
    text = config.read_text()
    assert "version: 1.1.0" in text
    assert "artifact: bundles/v1.1.0" in text
    # nothing else moved: the passphrase salt and every comment stay
    assert text.replace("1.1.0", "1.0.0") == before

    result = rollback(open_stack("local", tmp_path), bundle=tmp_path / "bundles" / "v1.0.0")
    assert (result.outcome, result.version) == ("rolled_back", "1.0.0")
    assert config.read_text() == before


def test_local_promote_checks_the_schema(tmp_path: Path, project_root: Path) -> None:
    _project(tmp_path, project_root)
    write_bundle(tmp_path / "bundles" / "v1.1.0", "1.1.0", ["a", "b"])
    with pytest.raises(SchemaMismatchError, match="features removed: f0, f1"):
        promote(open_stack("local", tmp_path), "1.1.0", bundle=tmp_path / "bundles" / "v1.1.0")


def _docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def docker_model() -> Iterator[tuple[str, str]]:
    """A model name with an image of version 0.9.0 and a running container of 1.0.0
    labelled as stack `stack`'s runtime; skipped without an engine (failed in CI)."""
    base = os.environ.get("INFERSTACK_TEST_BASE_IMAGE", "inferstack/base:bookworm")
    ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if shutil.which("docker") is None or _docker("image", "inspect", base).returncode != 0:
        if ci:
            pytest.fail(f"no docker engine or no base image {base}")
        pytest.skip(f"no docker engine or no base image {base}")
    model, stack = f"lc-{uuid.uuid4().hex[:8]}", f"lcs-{uuid.uuid4().hex[:8]}"
    image = f"inferstack/{model}:0.9.0-abc123"
    built = subprocess.run(
        ["docker", "build", "--network", "host", "-t", image, "-"],
        input=f"FROM {base}\nLABEL dev.inferstack.model.name={model} "
        "dev.inferstack.model.version=0.9.0\n",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    container = f"{stack}-runtime"
    run = _docker(
        "run",
        "-d",
        "--network",
        "host",
        "--name",
        container,
        "--label",
        f"dev.inferstack.endpoint={stack}",
        "-e",
        "INFERSTACK_MODEL_VERSION=1.0.0",
        base,
        "sleep",
        "120",
    )
    assert run.returncode == 0, run.stderr
    try:
        yield model, stack
    finally:
        _docker("rm", "-f", container)
        _docker("rmi", image)


def test_versions_reads_the_running_container_and_images(
    tmp_path: Path, project_root: Path, docker_model: tuple[str, str]
) -> None:
    model, stack = docker_model
    _project(tmp_path, project_root, model)
    shutil.copy(
        tmp_path / "stacks" / "Pulumi.local.yaml", tmp_path / "stacks" / f"Pulumi.{stack}.yaml"
    )
    versions = open_stack(stack, tmp_path).lifecycle.versions()
    rows = [(v.version, v.state, v.share, v.source) for v in versions]
    assert rows == [
        ("1.0.0", "serving", 1.0, "docker container"),
        ("0.9.0", "image", 0.0, "docker image"),
    ]
    assert versions[0].variant == f"{stack}-runtime"
    assert versions[1].detail == f"inferstack/{model}:0.9.0-abc123"
