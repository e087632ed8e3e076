"""Request heads, slow clients and connection counts: no single client holds the server.

Raw sockets on 127.0.0.1, each bounded by a socket timeout and a small count.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.runtime.conftest import Built
from tests.runtime.server import RuntimeServer

KEY = "a-test-key-of-32-characters-long"
LIMITS = {
    "INFERSTACK_API_KEY": KEY,
    "INFERSTACK_HEADER_TIMEOUT_S": "1",
    "INFERSTACK_BODY_TIMEOUT_S": "1",
    "INFERSTACK_REQUEST_TIMEOUT_S": "20",
    "INFERSTACK_MAX_CONNECTIONS": "16",
}


@pytest.fixture(scope="module")
def server(
    sklearn_bundle: Built, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RuntimeServer]:
    """One keyed server with short head and body timeouts and 16 connections at most."""
    logs = tmp_path_factory.mktemp("logs")
    with RuntimeServer(sklearn_bundle[0], logs, env=LIMITS) as running:
        yield running


def _connect(server: RuntimeServer, timeout: float = 10.0) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes (or the socket times out)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (TimeoutError, ConnectionResetError):
        pass
    return data


def _send_quietly(sock: socket.socket, data: bytes) -> bool:
    """Send; False once the server has closed the connection."""
    try:
        sock.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        return False
    return True


def test_huge_header_value_is_refused_with_431_before_it_is_read(server: RuntimeServer) -> None:
    with _connect(server) as sock:
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Big: ")
        sent = 0
        chunk = b"a" * 65536
        while sent < 8 * 1024 * 1024 and _send_quietly(sock, chunk):  # 8 MiB at most
            sent += len(chunk)
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b"request head exceeds the limit of 32768 bytes" in answer
    assert sent < 4 * 1024 * 1024, f"the server read {sent} bytes of one header"
    assert server.get("/v2/health/ready").status_code == 200


def test_too_many_headers_are_refused_with_431(server: RuntimeServer) -> None:
    head = b"GET /live HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(500))
    with _connect(server) as sock:
        sock.sendall(head + b"\r\n")
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert b"more than 100 header lines" in answer


def test_half_sent_head_and_idle_connection_get_408_and_close(server: RuntimeServer) -> None:
    start = time.monotonic()
    with _connect(server) as slow, _connect(server) as idle:
        slow.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):  # a slowloris: one more header byte now and then
            time.sleep(0.2)
            if not _send_quietly(slow, b"X"):
                break
        slow_answer = _read_all(slow)
        idle_answer = _read_all(idle)
    elapsed = time.monotonic() - start
    assert slow_answer.startswith(b"HTTP/1.1 408"), slow_answer[:200]
    assert idle_answer.startswith(b"HTTP/1.1 408"), idle_answer[:200]
    assert b"connection: close" in slow_answer
    assert elapsed < 8, f"connections held for {elapsed:.1f} s with a 1 s head timeout"


def test_stalled_body_gets_408_not_504(server: RuntimeServer) -> None:
    head = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + KEY.encode() + b"\r\nContent-Length: 1000\r\n\r\n"
    )
    start = time.monotonic()
    with _connect(server) as sock:
        sock.sendall(head + b'{"instances": [[')
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b'"code":"body_timeout"' in answer
    assert b"connection: close" in answer
    assert time.monotonic() - start < 8


def test_connections_past_the_limit_get_503(server: RuntimeServer) -> None:
    socks = [_connect(server) for _ in range(16)]
    try:
        response = server.get("/live")
    finally:
        for sock in socks:
            sock.close()
    assert response.status_code == 503, response.text
    deadline = time.monotonic() + 10  # the slots free up once those sockets are gone
    while server.get("/live").status_code != 200:
        assert time.monotonic() < deadline, "the server never recovered its connection slots"
        time.sleep(0.1)


def test_keep_alive_requests_still_flow(server: RuntimeServer) -> None:
    request = b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n"
    with _connect(server) as sock:
        for _ in range(3):
            sock.sendall(request)
            answer = b""
            while not answer.endswith(b'{"status":"ok"}'):
                chunk = sock.recv(65536)
                assert chunk, f"connection closed after {answer!r}"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
            time.sleep(0.3)


def test_server_without_limits_set_uses_safe_defaults(
    sklearn_bundle: Built, tmp_path: Path
) -> None:
    with RuntimeServer(sklearn_bundle[0], tmp_path) as running, _connect(running) as sock:
        sock.sendall(b"GET /live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
