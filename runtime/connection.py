"""uvicorn's httptools protocol with limits on request heads: size, count and time.

httptools keeps a header value in its own buffer until the value ends, so without a
cap one 100 MB value is read in full before the app sees the request. This protocol
counts the bytes of the request head as they arrive and refuses with 431 once they
pass ``max_header_bytes`` (or the header count passes ``max_headers``), and answers
408 when a connection has not sent a complete head within ``header_timeout_s`` of
connecting or of starting a request (slowloris, and idle connections that never send
anything). Keep-alive idleness after a response stays uvicorn's ``timeout_keep_alive``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState


@dataclass(frozen=True)
class HeadLimits:
    """What one request head may take (``RuntimeSettings`` gives the values)."""

    max_bytes: int = 16 * 1024
    """Request line and headers together, in bytes; more is refused with 431."""
    max_count: int = 100
    """Header lines; more is refused with 431."""
    timeout_s: float = 10.0
    """Seconds from connecting (or from a request's first byte) to a complete head; 408."""


class _Refused(Exception):  # noqa: N818 - a signal out of the parser's callbacks
    """Raised inside a parser callback to stop parsing; the protocol answers ``status``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` that bounds each request head's size, header count and time."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        limits: HeadLimits | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits or HeadLimits()
        self._in_head = True
        self._head_bytes = 0
        self._head_count = 0
        self._parsed_bytes = 0
        self._refusal: _Refused | None = None
        self._head_timer: asyncio.TimerHandle | None = None

    # -- the head timer ---------------------------------------------------------------
    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.timeout_s, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a pipelined head stalled behind a running request
            return
        self._refuse(408, f"request head not received within {self.limits.timeout_s:g} s")

    def _refuse(self, status: int, message: str) -> None:
        body = message.encode("ascii", "replace")
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: " + str(len(body)).encode() + b"\r\n",
            b"connection: close\r\n\r\n",
            body,
        ]
        self.logger.warning("request refused", extra={"status": status, "error": message})
        self.transport.write(b"".join(head))
        self.transport.close()
        self._disarm_head_timer()

    # -- protocol and parser callbacks ------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self._refusal is not None:
                self._refuse(self._refusal.status, self._refusal.message)
            else:
                self.logger.warning("Invalid HTTP request received.")
                self.send_400_response("Invalid HTTP request received.")
            return
        if self._in_head:  # the bytes httptools holds for a head that is not complete yet
            self._head_bytes += len(data)
            if self._head_bytes > self.limits.max_bytes:
                self._refuse(431, self._too_large())

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_count = 0
        self._parsed_bytes = 0
        self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        self._parsed_bytes += len(url)
        self._check_parsed()
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._head_count += 1
        if self._head_count > self.limits.max_count:
            self._refusal = _Refused(
                431, f"request has more than {self.limits.max_count} header lines"
            )
            raise self._refusal
        self._parsed_bytes += len(name) + len(value) + 4  # ": " and CRLF
        self._check_parsed()
        super().on_header(name, value)

    def _check_parsed(self) -> None:
        # A head that arrived in one read is parsed before data_received can count it.
        if self._parsed_bytes > self.limits.max_bytes:
            self._refusal = _Refused(431, self._too_large())
            raise self._refusal

    def _too_large(self) -> str:
        return f"request head exceeds the limit of {self.limits.max_bytes} bytes"

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._disarm_head_timer()
        super().on_headers_complete()


__all__ = ["HeadLimits", "LimitedHttpToolsProtocol"]
