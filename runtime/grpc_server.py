"""The gRPC listener's lifecycle: checked before start, started and drained with uvicorn.

gRPC is off unless ``INFERSTACK_GRPC_PORT`` (``--grpc-port``) is set. It serves from the
one process that serves HTTP (``INFERSTACK_WORKERS=1``): the workers of a multi-process
server share HTTP's socket, which gRPC cannot; scale gRPC with replicas instead. This
module imports grpcio only once gRPC is asked for, so the runtime runs without it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
from typing import TYPE_CHECKING, Any

from inferstack.runtime.errors import ConfigError
from inferstack.runtime.settings import RuntimeSettings

if TYPE_CHECKING:
    from inferstack.runtime.app import InferenceApp
    from inferstack.runtime.grpc_stream import StreamInference

log = logging.getLogger("inferstack.runtime")


def check_grpc(settings: RuntimeSettings) -> None:
    """Refuse a gRPC setting this process cannot honour (``ConfigError`` naming the fix)."""
    if settings.grpc_port is None:
        return
    if settings.workers > 1:
        raise ConfigError(
            f"INFERSTACK_GRPC_PORT needs INFERSTACK_WORKERS=1 (it is {settings.workers}): gRPC "
            "is served by a single process; scale with replicas, or unset INFERSTACK_GRPC_PORT"
        )
    if settings.grpc_port == settings.port:
        raise ConfigError(
            f"INFERSTACK_GRPC_PORT and INFERSTACK_PORT are both {settings.port}: "
            "gRPC needs a port of its own"
        )
    missing = [m for m in ("grpc", "google.protobuf") if not _installed(m)]
    if missing:
        raise ConfigError(
            f"INFERSTACK_GRPC_PORT is set but the package {_PACKAGES[missing[0]]!r} is not "
            "installed: pip install 'inferstack[grpc]'"
        )


_PACKAGES = {"grpc": "grpcio", "google.protobuf": "protobuf"}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package (google)
        return False


class GrpcServer:
    """The V2 gRPC service on its own port, in the event loop that serves HTTP."""

    def __init__(self, app: InferenceApp, settings: RuntimeSettings) -> None:
        assert settings.grpc_port is not None
        self.app = app
        host = settings.host
        self.address = (
            f"[{host}]:{settings.grpc_port}" if ":" in host else f"{host}:{settings.grpc_port}"
        )
        self.grace = settings.timeout_graceful_shutdown_s
        self.max_bytes = settings.max_request_bytes
        self._server: Any = None
        self._stream: StreamInference | None = None  # told when the drain begins
        self._stopping: asyncio.Future[None] | None = None

    async def start(self) -> None:
        """Bind and serve; ``ConfigError`` when the port cannot be had."""
        import grpc

        from inferstack.runtime.grpc_service import GrpcInference
        from inferstack.runtime.grpc_stream import StreamInference

        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", self.max_bytes),
                ("grpc.max_send_message_length", -1),
                ("grpc.so_reuseport", 0),  # a port in use is an error, never shared
            ]
        )
        inference = GrpcInference(self.app)
        self._stream = StreamInference(inference)
        server.add_generic_rpc_handlers(
            (inference.handler({"ModelStreamInfer": self._stream.handler()}),)
        )
        cause: RuntimeError | None = None
        try:
            bound = server.add_insecure_port(self.address)
        except RuntimeError as err:  # grpcio raises or returns 0, by version
            bound, cause = 0, err
        if not bound:
            raise ConfigError(
                f"cannot listen for gRPC on {self.address} (INFERSTACK_GRPC_PORT): "
                "the port is in use or the address is not this machine's"
            ) from cause
        await server.start()
        self._server = server
        log.info("gRPC listening", extra={"address": self.address})

    def begin_stop(self) -> None:
        """Refuse new calls now; calls in flight have ``grace`` seconds, then are cancelled."""
        if self._stopping is None and self._server is not None:
            if self._stream is not None:
                self._stream.begin_drain()
            self._stopping = asyncio.ensure_future(self._server.stop(self.grace))

    async def stopped(self) -> None:
        """Wait until the drain begun by ``begin_stop`` (begun here if not yet) ends."""
        self.begin_stop()
        if self._stopping is not None:
            await self._stopping
