"""The runtime image built from runtime/Dockerfile and run on a real Docker engine.

Builds and containers use `--network host` (the engine may have no bridge) and all
traffic goes to 127.0.0.1. Outside CI these tests skip, with the reason, when no
engine answers or the base image is missing; with CI=true they fail instead, so a
CI run can never pass without them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "examples" / "logreg-20f" / "bundle"
BASE_IMAGE_ENV = "INFERSTACK_TEST_BASE_IMAGE"
DEFAULT_BASE_IMAGE = "inferstack/base:bookworm"
API_KEY = "container-test-key"
READY_TIMEOUT_S = 90.0


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip with `reason` outside CI; fail in CI, where container tests must run."""
    if _in_ci():
        pytest.fail(f"container tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def docker(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """Run the docker CLI and return its completed process."""
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, check=check
    )


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """A Docker engine that answers; skip (or fail in CI) otherwise."""
    if shutil.which("docker") is None:
        unavailable("the docker CLI is not installed (apt-get install docker.io)")
    info = docker("info", "--format", "{{.ServerVersion}}", timeout=30, check=False)
    if info.returncode != 0:
        unavailable(
            f"no Docker engine answers ({info.stderr.strip()[-200:]}); start one, "
            "e.g. `dockerd --bridge=none --iptables=false`, or run `.ci/run setup`"
        )


@pytest.fixture(scope="session")
def base_image(docker_engine: None) -> str:
    """The base image builds start from (no registry is reachable here)."""
    image = os.environ.get(BASE_IMAGE_ENV, DEFAULT_BASE_IMAGE)
    if docker("image", "inspect", image, check=False).returncode != 0:
        unavailable(
            f"base image {image} is missing; `.ci/run setup` builds it from a "
            f"Debian rootfs (or set {BASE_IMAGE_ENV})"
        )
    return image


QUICKSTART_REQUIREMENTS = ("onnxruntime>=1.17",)
"""Added to the quickstart image by the build, so an ONNX bundle mounted over it serves."""


@pytest.fixture(scope="session")
def runtime_image(base_image: str) -> str:
    """The image for the quickstart bundle, built like `inferstack build` builds it."""
    from inferstack.components.image.build import build_image

    return build_image(
        BUNDLE, base_image=base_image, network="host", requirements=QUICKSTART_REQUIREMENTS
    )


def free_port() -> int:
    """A TCP port nothing listens on at the moment, on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    """A runtime container started by a test, on 127.0.0.1:`port`."""

    id: str
    port: int
    started_at: float
    ready_at: float = 0.0
    client: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.url, timeout=30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def logs(self) -> str:
        result = docker("logs", "--tail", "40", self.id, check=False)
        return result.stdout + result.stderr


def start_container(image: str, *args: str, env: dict[str, str] | None = None) -> Running:
    """`docker run -d IMAGE serve` on host networking; waits until /ping answers 200."""
    port = free_port()
    environment = {
        "INFERSTACK_HOST": "127.0.0.1",
        "SAGEMAKER_BIND_TO_PORT": str(port),
        "INFERSTACK_API_KEY": API_KEY,
        **(env or {}),
    }
    env_args = [a for k, v in environment.items() for a in ("--env", f"{k}={v}")]
    started = time.monotonic()
    run = docker(
        "run",
        "--detach",
        "--network",
        "host",
        "--name",
        f"inferstack-test-{uuid.uuid4().hex[:10]}",
        "--health-interval",
        "1s",
        *env_args,
        *args,
        image,
        "serve",
        check=False,
    )
    if run.returncode != 0:
        pytest.fail(f"docker run failed: {run.stderr}")
    running = Running(run.stdout.strip(), port, started)
    deadline = started + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if running.client.get("/ping", timeout=1).status_code == 200:
                running.ready_at = time.monotonic()
                return running
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    logs = running.logs()
    remove_container(running)
    pytest.fail(f"container not ready within {READY_TIMEOUT_S} s; logs:\n{logs}")


def remove_container(running: Running) -> None:
    """Remove a container this suite started (by its id)."""
    running.client.close()
    docker("rm", "--force", running.id, check=False)


@pytest.fixture(scope="module")
def served(runtime_image: str) -> Iterator[Running]:
    """One container of the quickstart image, shared by a test module."""
    running = start_container(runtime_image)
    yield running
    remove_container(running)
