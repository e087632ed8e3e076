"""A small client of the Docker Engine API over its unix socket (standard library only).

The docker provider talks to the engine's API, not to the CLI; the mirror does the
same for containers, networks and volumes, so exec-form health checks, port bindings
on one host address and network aliases reach the engine exactly as declared. Image
builds and pulls go through the `docker` CLI (`engine.cli`), as `inferstack build` does.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
from typing import Any
from urllib.parse import urlencode

from inferstack.components.errors import DeployError

DEFAULT_SOCKET = "/var/run/docker.sock"


class DockerMirrorError(DeployError):
    """The docker mirror could not do what the program declared; the message says what."""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def socket_path() -> str:
    """The engine's socket: DOCKER_HOST when it is a unix:// address, else the default."""
    host = os.environ.get("DOCKER_HOST", "")
    if host and not host.startswith("unix://"):
        raise DockerMirrorError(
            f"DOCKER_HOST={host}: the docker mirror talks to a local engine's unix socket only"
        )
    return host.removeprefix("unix://") or DEFAULT_SOCKET


class Engine:
    """One Docker engine, reached through its API socket and its CLI."""

    def __init__(self, path: str | None = None, timeout_s: float = 120.0) -> None:
        self.path = path or socket_path()
        self.timeout_s = timeout_s

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        data: bytes | None = None,
        ok_missing: bool = False,
    ) -> Any:
        """One API call; the decoded JSON answer (None when empty or, with `ok_missing`,
        for a 404). `DockerMirrorError` naming the call and the engine's message."""
        url = path + (f"?{urlencode(query)}" if query else "")
        headers = {}
        payload = data
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif data is not None:
            headers["Content-Type"] = "application/x-tar"
        connection = _UnixConnection(self.path, self.timeout_s)
        try:
            connection.request(method, url, body=payload, headers=headers)
            answer = connection.getresponse()
            raw = answer.read()
        except OSError as err:
            raise DockerMirrorError(
                f"docker engine at {self.path}: {method} {path}: {err}"
            ) from err
        finally:
            connection.close()
        if answer.status == 404 and ok_missing:
            return None
        if answer.status >= 400:
            try:
                message = json.loads(raw).get("message", "")
            except ValueError:
                message = raw.decode(errors="replace")
            raise DockerMirrorError(f"docker {method} {path}: {answer.status} {message}")
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw

    def cli(self, *args: str, timeout_s: float, env: dict[str, str] | None = None) -> str:
        """Run the docker CLI; its stdout, or `DockerMirrorError` with its last lines."""
        docker = shutil.which("docker")
        if docker is None:
            raise DockerMirrorError("the docker CLI is not on PATH")
        try:
            result = subprocess.run(
                [docker, *args],
                capture_output=True,
                text=True,
                check=False,
                timeout=timeout_s,
                env=env,
            )
        except subprocess.TimeoutExpired as err:
            raise DockerMirrorError(f"docker {args[0]} took over {timeout_s:g} s") from err
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
            raise DockerMirrorError(f"docker {' '.join(args[:2])} failed:\n{tail}")
        return result.stdout

    def logs(self, container_id: str, tail: int = 40) -> str:
        """The container's last log lines (stdout and stderr), for error messages."""
        raw = self.request(
            "GET",
            f"/containers/{container_id}/logs",
            query={"stdout": 1, "stderr": 1, "tail": tail},
            ok_missing=True,
        )
        if not isinstance(raw, bytes):
            return str(raw or "")
        # Without a TTY the stream is multiplexed: 8-byte headers before each frame.
        out, i = [], 0
        while i + 8 <= len(raw):
            size = int.from_bytes(raw[i + 4 : i + 8], "big")
            out.append(raw[i + 8 : i + 8 + size])
            i += 8 + size
        return b"".join(out).decode(errors="replace")
