"""A real runtime server process on 127.0.0.1 for tests, stopped by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A port nobody listens on right now (bound to 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RuntimeServer:
    """``python -m inferstack.runtime serve BUNDLE`` with env settings, logs to a file."""

    def __init__(
        self,
        bundle: Path,
        log_dir: Path,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
    ) -> None:
        self.bundle = bundle
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"server-{self.port}.log"
        self.env = {
            **os.environ,
            "INFERSTACK_HOST": "127.0.0.1",
            "INFERSTACK_PORT": str(self.port),
            "INFERSTACK_LOG_LEVEL": "warning",
            **(env or {}),
        }
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait_ready: bool = True, timeout: float = 90.0) -> RuntimeServer:
        """Start the process and wait for liveness (and readiness unless told not to)."""
        if self.proc is not None:
            raise RuntimeError("server already started")
        cmd = self.args or [sys.executable, "-m", "inferstack.runtime", "serve", str(self.bundle)]
        self._log = self.log_path.open("wb")
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)
        self.wait_for("/v2/health/ready" if wait_ready else "/v2/health/live", timeout)
        return self

    def wait_for(self, path: str, timeout: float) -> None:
        """Poll ``path`` until it answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.logs()}")
            try:
                if httpx.get(self.url + path, timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"{path} not 200 after {timeout}s: {self.logs()}")

    def logs(self) -> str:
        """What the server wrote so far."""
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, wait, SIGKILL as a last resort; returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        return int(self.proc.returncode)

    def __enter__(self) -> RuntimeServer:
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        """POST to the server."""
        return httpx.post(self.url + path, timeout=30.0, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET from the server."""
        return httpx.get(self.url + path, timeout=30.0, **kwargs)


def metric_value(text: str, name: str, **labels: str) -> float:
    """Sum of samples of ``name`` whose labels include ``labels`` (Prometheus text format)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total
