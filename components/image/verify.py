"""Proving a built runtime image serves its bundle: start it, probe it, remove it.

`inferstack build` runs this after `docker build`: the container listens on a free
port of 127.0.0.1 (host network), with a throwaway API key; the check waits for
`/ping`, sends the bundle's probe rows to `/invocations` and wants one prediction per
row. The container is removed whatever happens, and a failure carries its log.
The `RuntimeImage` component does not run this: it runs under `pulumi up`.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from inferstack.components.image.source import ImageError
from inferstack.runtime.contract import Env, Routes
from inferstack.runtime.manifest import Manifest

PROBE_ROWS = 2
READY_TIMEOUT_S = 120.0
LOG_LINES = 40


@dataclass(frozen=True)
class Verified:
    """What the check saw: rows answered, and how long the container took to be ready."""

    rows: int
    ready_seconds: float


def _cell(manifest: Manifest, name: str, dtype: str) -> Any:
    # As the runtime's load-time probe (runtime/frames.probe_rows): a category seen in
    # training for strings, else zero; a numeric feature with a reference profile takes
    # its middle bin edge, a value the model saw.
    if dtype == "string":
        known = (manifest.input.categories or {}).get(name)
        return known[0] if known else ""
    if dtype == "bool":
        return False
    profile = (manifest.reference or {}).get(name)
    value = profile.edges[len(profile.edges) // 2] if profile else 0.0
    return round(value) if dtype.startswith("int") else float(value)


def _nest(cells: list[Any], shape: tuple[int, ...]) -> Any:
    if len(shape) <= 1:
        return cells
    step = len(cells) // shape[0]
    return [_nest(cells[i * step : (i + 1) * step], shape[1:]) for i in range(shape[0])]


def probe_rows(manifest: Manifest, rows: int = PROBE_ROWS) -> list[Any]:
    """Valid request rows made from the manifest's input schema (JSON values)."""
    schema = manifest.input
    cells = [_cell(manifest, n, d) for n, d in zip(schema.names, schema.dtypes, strict=True)]
    return [_nest(cells, schema.row_shape) for _ in range(rows)]


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on at the moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _docker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=False, timeout=120, env=env
    )


def _logs(container: str) -> str:
    result = _docker("logs", "--tail", str(LOG_LINES), container)
    return (result.stdout + result.stderr).strip() or "(the container wrote nothing)"


def _fail(container: str, problem: str) -> ImageError:
    return ImageError(
        f"the built image does not serve its bundle: {problem}\n"
        f"last {LOG_LINES} lines of the container's log:\n{_logs(container)}"
    )


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (127.0.0.1)
            return int(response.status)
    except urllib.error.HTTPError as err:
        return err.code
    except OSError:
        return 0


def _running(container: str) -> bool:
    state = _docker("inspect", "--format", "{{.State.Running}}", container)
    return state.stdout.strip() == "true"


def _wait_ready(container: str, base: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _get(base + Routes.PING) == 200:
            return
        if not _running(container):
            raise _fail(container, "the container exited before it was ready")
        time.sleep(0.25)
    raise _fail(container, f"{Routes.PING} did not answer 200 within {timeout_s:.0f} s")


def _probe(container: str, base: str, key: str, rows: list[Any]) -> None:
    request = urllib.request.Request(  # noqa: S310 (127.0.0.1)
        base + Routes.INVOCATIONS,
        data=json.dumps({"instances": rows}).encode(),
        headers={"Content-Type": "application/json", "X-Api-Key": key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
            body = json.loads(response.read())
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:500]
        raise _fail(container, f"the probe rows got HTTP {err.code}: {detail}") from err
    except (OSError, ValueError) as err:
        raise _fail(container, f"the probe request failed: {err}") from err
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(predictions, list) or len(predictions) != len(rows):
        raise _fail(
            container,
            f"{len(rows)} probe rows got {json.dumps(body)[:300]}, not one prediction per row",
        )


def verify_image(image: str, manifest: Manifest, timeout_s: float = READY_TIMEOUT_S) -> Verified:
    """Run `image` on 127.0.0.1, probe it with the manifest's rows, then remove it.

    `ImageError` (with the container's log) when it does not get ready in `timeout_s`,
    exits, or answers the probe rows with anything but one prediction per row.
    """
    port = free_port()
    key = secrets.token_urlsafe(24)
    name = f"inferstack-verify-{uuid.uuid4().hex[:12]}"
    # The key reaches docker through its environment, not its command line.
    env = {**os.environ, Env.API_KEY: key}
    started = time.monotonic()
    run = _docker(
        "run",
        "--detach",
        "--network",
        "host",
        "--name",
        name,
        "--env",
        f"{Env.HOST}=127.0.0.1",
        "--env",
        f"{Env.PORT}={port}",
        "--env",
        Env.API_KEY,
        image,
        "serve",
        env=env,
    )
    if run.returncode != 0:
        _docker("rm", "--force", name)
        raise ImageError(f"cannot start the built image {image}: {run.stderr.strip()}")
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(name, base, timeout_s)
        ready = time.monotonic() - started
        rows = probe_rows(manifest)
        _probe(name, base, key, rows)
        return Verified(len(rows), ready)
    finally:
        _docker("rm", "--force", name)
