"""`inferstack build`: the command users run for the image alone."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from inferstack.components.cli import app
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
