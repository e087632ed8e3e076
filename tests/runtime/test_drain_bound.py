"""SIGTERM's drain is bounded: a client stalled mid-body gets 503 and the process exits."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

from inferstack.runtime import bundle
from inferstack.runtime.settings import RuntimeSettings
from tests.runtime.server import RuntimeServer

ECHO = """
class Echo:
    def predict(self, x):
        return x.sum(axis=1)
"""


def test_default_drain_bound_is_below_kubernetes_grace_period() -> None:
    assert RuntimeSettings().timeout_graceful_shutdown_s < 30


def test_stalled_client_does_not_hold_the_drain(tmp_path: Path, log_dir: Path) -> None:
    (tmp_path / "echo.py").write_text(ECHO)
    path = bundle(
        f"{tmp_path / 'echo.py'}:Echo",
        framework="custom",
        name="echo",
        version="1.0.0",
        out=tmp_path / "b",
        features=["a", "b"],
    )
    env = {
        "INFERSTACK_TIMEOUT_GRACEFUL_SHUTDOWN_S": "2",
        "INFERSTACK_BODY_TIMEOUT_S": "120",
        "INFERSTACK_REQUEST_TIMEOUT_S": "120",
    }
    server = RuntimeServer(path, log_dir, env=env).start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
            sock.sendall(
                b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"instances": [['
            )
            time.sleep(0.5)  # the request is in flight, waiting for the rest of its body
            assert server.proc is not None
            start = time.monotonic()
            server.proc.send_signal(signal.SIGTERM)
            answer = b""
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
            except (TimeoutError, ConnectionResetError):
                pass
            code = server.proc.wait(20)
            elapsed = time.monotonic() - start
    finally:
        server.stop()
    assert code == 0, server.logs()
    assert elapsed < 10, f"the drain took {elapsed:.1f} s with a 2 s bound"
    assert answer.startswith(b"HTTP/1.1 503"), answer[:300]
    assert b'"code":"shutting_down"' in answer
    assert "request answered 503: the shutdown drain ended" in server.logs()
