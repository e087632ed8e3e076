"""`inferstack build`: the command users run for the image alone; it proves the image."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from typer.testing import CliRunner, Result

from inferstack.components.cli.app import app
from inferstack.runtime.manifest import read_manifest
from tests.container.conftest import BUNDLE, QUICKSTART_REQUIREMENTS, docker

BROKEN = """
class Broken:
    def predict(self, batch):
        raise ValueError("broken on purpose")
"""


def build(bundle: Path, base_image: str, *args: str) -> Result:
    """`inferstack build BUNDLE` on the host network from `base_image`."""
    return CliRunner().invoke(
        app, ["build", str(bundle), "--base-image", base_image, "--network", "host", *args]
    )


def _verify_containers() -> set[str]:
    return set(docker("ps", "-aq", "--filter", "name=inferstack-verify-").stdout.split())


def test_build_command_tags_the_image(base_image: str) -> None:
    tag = "inferstack-test/cli-build:latest"
    added = [a for r in QUICKSTART_REQUIREMENTS for a in ("--requirement", r)]
    result = build(BUNDLE, base_image, "--tag", tag, *added)
    try:
        assert result.exit_code == 0, result.output
        assert result.output.strip().splitlines()[-1] == tag
        assert "verified: ready in" in result.output
        assert "2 probe rows answered" in result.output
        assert not _verify_containers()
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
    artifact = str(read_manifest(BUNDLE).artifact)
    (plan.context / "bundle" / artifact).chmod(0o600)
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
    assert f"/opt/ml/model/{artifact}" in result.stdout + result.stderr


def test_a_requirement_that_cannot_install_fails_the_build_naming_it(base_image: str) -> None:
    result = build(BUNDLE, base_image, "--requirement", "inferstack-no-such-package-x9>=1")
    assert result.exit_code == 1
    assert "inferstack-no-such-package-x9" in result.output.split("last lines of the build")[0]
    assert "No matching distribution" in result.output


def test_a_requirement_against_the_runtimes_pins_fails_with_pips_message(
    base_image: str,
) -> None:
    """The runtime needs numpy>=2: one resolve refuses numpy<2, nothing is downgraded."""
    result = build(BUNDLE, base_image, "--requirement", "numpy<2")
    assert result.exit_code == 1
    assert "numpy<2" in result.output
    assert "conflict" in result.output.lower() or "ResolutionImpossible" in result.output


def test_an_image_that_cannot_answer_fails_verification_with_its_log(
    base_image: str, tmp_path: Path
) -> None:
    """The build succeeds, the probe rows get a 500: the command fails, shows the
    container's log, and leaves no container behind."""
    bundle = tmp_path / "broken"
    bundle.mkdir(mode=0o755)
    (bundle / "broken.py").write_text(BROKEN)
    manifest = {
        "name": "broken",
        "version": "1.0.0",
        "framework": "custom",
        "predictor": "broken:Broken",
        "input": {"features": ["a", "b"]},
    }
    (bundle / "inferstack.yaml").write_text(json.dumps(manifest))
    tag = "inferstack-test/broken:latest"
    result = build(bundle, base_image, "--tag", tag)
    try:
        assert result.exit_code == 1, result.output
        assert "does not serve its bundle" in result.output
        assert "HTTP 500" in result.output
        assert "broken on purpose" in result.output  # from the container's log
        assert not _verify_containers()
        skipped = build(bundle, base_image, "--tag", tag, "--no-verify")
        assert skipped.exit_code == 0, skipped.output
        assert "verified" not in skipped.output
    finally:
        docker("rmi", tag, check=False)
