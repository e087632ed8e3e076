"""`make up` on a machine without the Pulumi CLI or Docker stops first and says what to do."""

from __future__ import annotations

import os
import shutil
import socket
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


def cli(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess[str]:
    """`inferstack ARGS` in a subprocess, with `env` over this process's environment."""
    return subprocess.run(
        [sys.executable, "-m", "inferstack.components.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
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
    # No download: the test must not depend on whether get.pulumi.com is reachable.
    result = make_without_pulumi(
        tmp_path, "up", f"PULUMI_BACKEND_URL=file://{state}", "BOOTSTRAP_ARGS=--no-download"
    )
    assert result.returncode != 0
    assert "`pulumi` not found on PATH" in result.stdout + result.stderr
    assert not state.exists()


@pytest.mark.skipif(shutil.which("pulumi") is not None, reason="this machine has the Pulumi CLI")
def test_make_down_says_what_is_missing_without_pulumi(tmp_path: Path) -> None:
    result = make_without_pulumi(tmp_path, "down")
    assert result.returncode != 0
    report = result.stdout + result.stderr  # the report goes to stderr (--print-env)
    assert "make cannot continue" in report
    assert "`pulumi` not found on PATH" in report
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


def fake_tools(tmp_path: Path, context: str, containers: str = "") -> Path:
    """A PATH with a fake `pulumi` and a fake `docker` whose current context is at
    `context` and whose `docker ps` lists `containers` (name TAB endpoint label)."""
    tmp_path = tmp_path / f"tools-{len(list(tmp_path.glob('tools-*')))}"
    tmp_path.mkdir()
    bin_dir = Path(bare_path(tmp_path))
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "docker").write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        "  info) echo 27.0.1 ;;\n"
        f"  context) echo 'colima {context}' ;;\n"
        f"  ps) printf '{containers}' ;;\n"
        "esac\n"
    )
    for tool in ("pulumi", "docker"):
        (bin_dir / tool).chmod(0o755)
    return bin_dir


COLIMA = "unix:///home/me/.colima/default/docker.sock"


def test_doctor_exports_the_docker_contexts_endpoint_for_pulumi(tmp_path: Path) -> None:
    """The provider reads DOCKER_HOST, not the CLI's context: `docker info` working is
    not enough (Colima, rootless Docker, Podman)."""
    path = str(fake_tools(tmp_path, COLIMA))
    env = {"PATH": path, "COLUMNS": "200", "DOCKER_HOST": ""}
    result = cli("doctor", "--for-up", "--print-env", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"export DOCKER_HOST={COLIMA}\n"
    assert "does not find by itself" in result.stderr
    # The line is what `make up` evaluates.
    shell = subprocess.run(
        ["sh", "-c", f'eval "{result.stdout}"; echo "$DOCKER_HOST"'],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.strip() == COLIMA

    bare = cli("doctor", "--for-up", **env)
    assert bare.returncode == 1
    assert f"export DOCKER_HOST={COLIMA}" in bare.stdout


@pytest.mark.parametrize("context", ["unix:///var/run/docker.sock", COLIMA])
def test_doctor_exports_nothing_the_provider_finds_itself(tmp_path: Path, context: str) -> None:
    path = str(fake_tools(tmp_path, context))
    preset = {"DOCKER_HOST": COLIMA} if context == COLIMA else {"DOCKER_HOST": ""}
    result = cli("doctor", "--for-up", "--print-env", PATH=path, **preset)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""


def project_with_port(tmp_path: Path, port: int) -> Path:
    """A project whose `local` stack publishes the runtime on `port`, no dashboard."""
    import yaml

    root = tmp_path / "project"
    (root / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())
    deployment = document["config"]["inferstack:deployment"]
    deployment["targets"] = {"local": {"port": port}}
    deployment["observability"]["dashboard"] = False
    (root / "stacks" / "Pulumi.local.yaml").write_text(yaml.safe_dump(document))
    return root


def test_doctor_names_a_taken_host_port_and_the_setting_to_change(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        root = project_with_port(tmp_path, port)
        path = str(fake_tools(tmp_path, "unix:///var/run/docker.sock"))
        result = cli(
            "doctor", "--for-up", "--ports-of", "local", cwd=root, PATH=path, COLUMNS="300"
        )
        assert result.returncode == 1, result.stdout
        assert f"127.0.0.1:{port} is in use by another process" in result.stdout
        assert "set targets.local.port in stacks/Pulumi.local.yaml" in result.stdout
        assert "make cannot continue; nothing was created or changed" in result.stdout

        # Held by this stack's own runtime container: `pulumi up` replaces it.
        own = str(
            fake_tools(
                tmp_path, "unix:///var/run/docker.sock", "inferstack-local-runtime\\tlocal\\n"
            )
        )
        again = cli("doctor", "--for-up", "--ports-of", "local", cwd=root, PATH=own)
        assert again.returncode == 0, again.stdout

        other = str(fake_tools(tmp_path, "unix:///var/run/docker.sock", "web\\t\\n"))
        taken = cli(
            "doctor", "--for-up", "--ports-of", "local", cwd=root, PATH=other, COLUMNS="300"
        )
        assert taken.returncode == 1
        assert f"127.0.0.1:{port} is in use by container web" in taken.stdout
    freed = cli("doctor", "--for-up", "--ports-of", "local", cwd=root, PATH=path, COLUMNS="300")
    assert freed.returncode == 0, freed.stdout
    assert f"free on 127.0.0.1: {port}" in freed.stdout


def test_make_down_keeps_captured_data_and_says_where_it_is() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "down"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert "docker volume rm inferstack-local-capture" in result.stdout
    assert "make clean-images" in result.stdout


def test_make_clean_images_removes_built_images_and_staged_contexts(tmp_path: Path) -> None:
    bin_dir = Path(bare_path(tmp_path))
    for tool in ("rm", "grep", "sort"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or tool)
    log = tmp_path / "docker.log"
    (bin_dir / "docker").write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        'if [ "$1" = images ]; then printf "inferstack/churn:1.0.0-abc\\n<none>:<none>\\n"; fi\n'
    )
    (bin_dir / "docker").chmod(0o755)
    staged = tmp_path / "contexts"
    (staged / "abc").mkdir(parents=True)
    result = subprocess.run(
        ["make", "--no-print-directory", "clean-images", f"STAGED_CONTEXTS={staged}"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PATH": str(bin_dir)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    calls = log.read_text().splitlines()
    assert calls[0].startswith("images --filter label=dev.inferstack.version")
    assert calls[1] == "rmi inferstack/churn:1.0.0-abc"
    assert calls[2] == "image prune --force --filter label=dev.inferstack.version"
    assert not staged.exists()
