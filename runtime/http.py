"""Small ASGI helpers: read a bounded body, send a response, the one error handler."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from inferstack.runtime.errors import (
    BodyTimeout,
    InferstackError,
    InvalidInput,
    PayloadTooLarge,
    ShuttingDown,
)

log = logging.getLogger("inferstack.runtime")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
JSON = b"application/json"
CSV = b"text/csv"


class ClientDisconnected(Exception):  # noqa: N818 - a condition, not a failure
    """The client went away before its body was read."""


CLOSE = [(b"connection", b"close")]


class Response:
    """Status, body and content type of one answer."""

    __slots__ = ("body", "content_type", "headers", "status")

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: bytes = JSON,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers


def json_response(status: int, payload: Any) -> Response:
    """A JSON response."""
    return Response(status, orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY))


def error_response(err: BaseException) -> Response:
    """The one error handler: runtime errors keep their status, the rest are 500s."""
    if isinstance(err, InferstackError):
        response = json_response(err.status_code, err.to_dict())
        if isinstance(err, (BodyTimeout, ShuttingDown)):  # the rest of the body never comes
            response.headers = CLOSE
        return response
    log.error("unhandled error", exc_info=err)
    return json_response(500, {"error": {"code": "internal", "message": "internal server error"}})


async def read_body(
    receive: Receive, headers: dict[bytes, bytes], limit: int, timeout_s: float | None = None
) -> bytes:
    """The whole request body, refusing more than ``limit`` bytes (413).

    A body not complete within ``timeout_s`` seconds is refused with 408 (``BodyTimeout``).
    """
    try:
        async with asyncio.timeout(timeout_s):
            return await _read_body(receive, headers, limit)
    except TimeoutError as err:
        raise BodyTimeout(f"request body not received within {timeout_s:g} s") from err


async def _read_body(receive: Receive, headers: dict[bytes, bytes], limit: int) -> bytes:
    declared = headers.get(b"content-length")
    if declared is not None:
        try:
            size = int(declared)
        except ValueError:
            raise InvalidInput("Content-Length header is not a number") from None
        if size > limit:
            raise PayloadTooLarge(
                f"request body of {size} bytes exceeds the limit of {limit} bytes"
            )
    chunks = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnected
        chunk = message.get("body", b"")
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def send_response(send: Send, response: Response) -> None:
    """Write a response with Content-Type and Content-Length."""
    headers = [
        (b"content-type", response.content_type),
        (b"content-length", str(len(response.body)).encode()),
    ]
    if response.headers:
        headers.extend(response.headers)
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})
