"""`inferstack build`: the command users run for the image alone."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from inferstack.components.cli.app import app
from inferstack.runtime.manifest import read_manifest
from tests.container.conftest import BUNDLE, docker


def test_build_command_tags_the_image(base_image: str) -> None:
    tag = "inferstack-test/cli-build:latest"
    result = CliRunner().invoke(
        app, ["build", str(BUNDLE), "--tag", tag, "--base-image", base_image, "--network", "host"]
    )
    try:
        assert result.exit_code == 0, result.output
        assert result.output.strip().splitlines()[-1] == tag
        labels = json.loads(docker("image", "inspect", tag).stdout)[0]["Config"]["Labels"]
        manifest = read_manifest(BUNDLE)
        assert labels["dev.inferstack.model.name"] == manifest.name
        assert labels["dev.inferstack.model.version"] == manifest.version
        assert labels["org.opencontainers.image.base.name"] == base_image
    finally:
        docker("rmi", tag, check=False)


def test_build_command_refuses_a_folder_without_a_bundle(
    docker_engine: None, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["build", str(tmp_path)])
    assert result.exit_code == 1
    assert "inferstack.yaml" in result.output


def test_a_bundle_the_server_user_cannot_read_fails_the_build(
    base_image: str, tmp_path: Path
) -> None:
    """COPY keeps modes (a plain `docker build` of a umask-077 bundle): fail at build time,
    not with a container that crash-loops on start."""
    from inferstack.components.image.build import docker_env
    from inferstack.components.image.context import flavor, plan_build

    plan = plan_build(BUNDLE, "logreg-20f", "1.0.0", flavor(base_image=base_image), tmp_path)
    (plan.context / "bundle" / "model.joblib").chmod(0o600)
    tag = "inferstack-test/unreadable:latest"
    before = set(docker("ps", "-aq").stdout.split())
    result = subprocess.run(
        plan.docker_command(tag, "host"),
        capture_output=True,
        text=True,
        check=False,
        env=docker_env(),
        timeout=1800,
    )
    docker("rmi", tag, check=False)
    # The classic builder keeps the container of a failed step; remove what this build left.
    for container in set(docker("ps", "-aq").stdout.split()) - before:
        docker("rm", "--force", container, check=False)
    assert result.returncode != 0
    assert "uid 10001 cannot read" in result.stdout + result.stderr
    assert "/opt/ml/model/model.joblib" in result.stdout + result.stderr
