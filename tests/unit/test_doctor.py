"""`make up` on a machine without the Pulumi CLI or Docker stops first and says what to do."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def bare_path(tmp_path: Path) -> str:
    """A PATH with python and make but neither pulumi nor docker."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "sh", "bash", "mkdir", "touch", "env"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    (bin_dir / "python3").symlink_to(sys.executable)
    return str(bin_dir)


def cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`inferstack ARGS` in a subprocess, with `env` over this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "inferstack.components.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, **env},
    )


def test_doctor_names_what_is_missing(tmp_path: Path) -> None:
    result = cli("doctor", "--for-up", PATH=bare_path(tmp_path), COLUMNS="200")
    assert result.returncode == 1
    assert "make cannot continue; nothing was created or changed" in result.stdout
    assert "`pulumi` not found on PATH" in result.stdout
    assert "get.pulumi.com" in result.stdout
    assert "`docker` not found on PATH" in result.stdout


def test_outputs_without_pulumi_says_what_to_install(tmp_path: Path) -> None:
    result = cli("outputs", "local", PATH=bare_path(tmp_path), COLUMNS="200")
    assert result.returncode == 1
    assert "error: cannot read outputs of stack local" in result.stderr
    assert "get.pulumi.com" in result.stderr
    assert "Traceback" not in result.stderr


def make_without_pulumi(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`make ARGS` on a PATH with the project's venv but no Pulumi CLI or Docker."""
    return subprocess.run(
        ["make", "--no-print-directory", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=600,
        env={
            **os.environ,
            "PATH": bare_path(tmp_path) + ":" + str(ROOT / ".venv" / "bin"),
            "COLUMNS": "200",
        },
    )


@pytest.mark.skipif(shutil.which("pulumi") is not None, reason="this machine has the Pulumi CLI")
def test_make_up_stops_before_deploying_without_pulumi(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = make_without_pulumi(tmp_path, "up", f"PULUMI_BACKEND_URL=file://{state}")
    assert result.returncode != 0
    assert "`pulumi` not found on PATH" in result.stdout
    assert not state.exists()


@pytest.mark.skipif(shutil.which("pulumi") is not None, reason="this machine has the Pulumi CLI")
def test_make_down_says_what_is_missing_without_pulumi(tmp_path: Path) -> None:
    result = make_without_pulumi(tmp_path, "down")
    assert result.returncode != 0
    assert "make cannot continue" in result.stdout
    assert "`pulumi` not found on PATH" in result.stdout
    assert "pulumi: not found" not in result.stderr


@pytest.mark.parametrize(("stack", "gets_default"), [("local", True), ("prod-aws", False)])
def test_only_the_local_stack_gets_the_default_passphrase(stack: str, gets_default: bool) -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "up", f"STACK={stack}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert f"pulumi up --yes --stack {stack}" in result.stdout
    assert ("inferstack-local" in result.stdout) is gets_default


FAKE_PULUMI = """#!/bin/sh
case "$1" in
  version) echo v3.0.0 ;;
  stack) echo '{"endpoint_url": "http://127.0.0.1:8080", "api_key": "[secret]"}' ;;
esac
"""


def test_outputs_prints_a_key_command_that_finds_the_make_up_stack(tmp_path: Path) -> None:
    """`make up` keeps the stack in a file backend with the local passphrase; the printed
    command must carry both, or it reads another backend in the user's own shell."""
    bin_dir = Path(bare_path(tmp_path))
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    state = tmp_path / "my state"
    result = cli(
        "outputs",
        "local",
        PATH=str(bin_dir),
        COLUMNS="80",
        PULUMI_BACKEND_URL=f"file://{state}",
        PULUMI_CONFIG_PASSPHRASE="inferstack-local",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    command = (
        f"PULUMI_BACKEND_URL='file://{state}' PULUMI_CONFIG_PASSPHRASE=inferstack-local "
        "pulumi stack output api_key --show-secrets --stack local"
    )
    assert f"API key:   {command}\n" in result.stdout
    assert f'X-Api-Key: $({command})"' in result.stdout
    assert "http://127.0.0.1:8080/invocations" in result.stdout


def test_outputs_never_prints_a_passphrase_of_the_users_own(tmp_path: Path) -> None:
    bin_dir = Path(bare_path(tmp_path))
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    result = cli("outputs", "local", PATH=str(bin_dir), PULUMI_CONFIG_PASSPHRASE="hunter2-secret")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "hunter2-secret" not in result.stdout
