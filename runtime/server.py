"""Run the app on uvicorn (httptools + uvloop); SIGTERM drains in-flight requests, exits 0.

The drain is bounded (``INFERSTACK_TIMEOUT_GRACEFUL_SHUTDOWN_S``, 25 s by default):
uvicorn then cancels the requests still running and the app answers each 503.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import signal
import socket
import threading
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import uvicorn

from inferstack.runtime.auth import check_keys
from inferstack.runtime.connection import HeadLimits, LimitedHttpToolsProtocol
from inferstack.runtime.errors import InferstackError
from inferstack.runtime.logs import configure_logging
from inferstack.runtime.settings import RuntimeSettings

if TYPE_CHECKING:  # imported where gRPC is asked for
    from inferstack.runtime.grpc_server import GrpcServer

log = logging.getLogger("inferstack.runtime")
_FACTORY = "inferstack.runtime.server:app_from_env"


class _Server(uvicorn.Server):
    """uvicorn's server without re-raising the captured signal after the graceful drain.

    With gRPC on, the gRPC listener starts before HTTP and drains beside it: on SIGTERM
    both stop accepting at once, and the batcher closes only after both drained.
    """

    def __init__(self, config: uvicorn.Config, grpc: GrpcServer | None = None) -> None:
        super().__init__(config)
        self.grpc = grpc

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        if self.grpc is not None:
            try:
                await self.grpc.start()
            except InferstackError as err:
                log.error("server refused to start", extra={"error": err.message})
                raise SystemExit(2) from err
        await super().startup(sockets)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        grpc = self.grpc
        if grpc is not None:
            grpc.begin_stop()
            close_app = self.lifespan.shutdown

            async def after_grpc() -> None:  # the app's shutdown closes the batcher
                await grpc.stopped()
                await close_app()

            self.lifespan.shutdown = after_grpc  # type: ignore[method-assign]
        await super().shutdown(sockets)
        if grpc is not None:
            await grpc.stopped()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        sigs = (signal.SIGINT, signal.SIGTERM)
        original = {sig: signal.signal(sig, self.handle_exit) for sig in sigs}
        try:
            yield
        finally:
            for sig, handler in original.items():
                signal.signal(sig, handler)


class _Environment(logging.Filter):
    """Adds the deployment's environment to every record (a field of each JSON line)."""

    def __init__(self, environment: str) -> None:
        super().__init__()
        self.environment = environment

    def filter(self, record: logging.LogRecord) -> bool:
        record.environment = self.environment
        return True


def setup_logging(settings: RuntimeSettings) -> None:
    """JSON logs at the configured level, each line with ``environment`` when it is set."""
    configure_logging(settings.log_level)
    if settings.environment is None:
        return
    env = _Environment(settings.environment)
    for name in ("inferstack", "uvicorn", "uvicorn.error"):
        for handler in logging.getLogger(name).handlers:
            handler.addFilter(env)


def app_from_env() -> Any:
    """Factory used by worker processes: settings come from the environment."""
    from inferstack.runtime.app import create_app

    settings = RuntimeSettings()
    setup_logging(settings)
    return create_app(settings)


def _config(settings: RuntimeSettings, app: Any, workers: int) -> uvicorn.Config:
    loop = "uvloop"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        loop = "asyncio"
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        workers=workers,
        factory=isinstance(app, str),
        loop=loop,
        # uvicorn calls the protocol class with keyword arguments; a partial carries the limits.
        http=functools.partial(  # type: ignore[arg-type]
            LimitedHttpToolsProtocol,
            limits=HeadLimits(
                settings.max_header_bytes, settings.max_headers, settings.header_timeout_s
            ),
        ),
        limit_concurrency=settings.max_connections,
        lifespan="on",
        access_log=False,
        server_header=False,
        proxy_headers=False,  # the client address is never used; skip the middleware
        log_config=None,
        log_level=settings.log_level,
        backlog=2048,
        timeout_keep_alive=int(settings.timeout_keep_alive_s),
        timeout_graceful_shutdown=math.ceil(settings.timeout_graceful_shutdown_s),
    )


def serve(settings: RuntimeSettings | None = None) -> None:
    """Serve ``settings.bundle_dir`` until SIGTERM/SIGINT (blocking)."""
    settings = settings or RuntimeSettings()
    setup_logging(settings)
    from inferstack.runtime.app import check_start, create_app
    from inferstack.runtime.manifest import read_manifest

    try:
        check_keys(settings)  # in the parent too: workers would each print a traceback
        if settings.grpc_port is not None:
            from inferstack.runtime.grpc_server import check_grpc

            check_grpc(settings)
        if settings.workers == 1:
            app = create_app(settings)
        else:  # the workers check again; a bundle that cannot be read is theirs to report
            try:
                manifest = read_manifest(settings.bundle_dir)
            except InferstackError:
                manifest = None
            if manifest is not None:
                check_start(manifest, settings)
    except InferstackError as err:
        log.error("server refused to start", extra={"error": err.message})
        raise SystemExit(2) from err
    if settings.workers == 1:
        grpc = None
        if settings.grpc_port is not None:
            from inferstack.runtime.grpc_server import GrpcServer

            grpc = GrpcServer(app, settings)
        _Server(_config(settings, app, 1), grpc).run()
        return
    # Worker processes rebuild their settings from the environment.
    for field, value in settings.model_dump(exclude_none=True).items():
        os.environ[f"INFERSTACK_{field.upper()}"] = str(value)
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="inferstack-metrics-")
    config = _config(settings, _FACTORY, settings.workers)
    sock = config.bind_socket()
    from uvicorn.supervisors import Multiprocess

    Multiprocess(config, sockets=[sock]).run()
