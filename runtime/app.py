"""The ASGI application: one lean router for every protocol the runtime speaks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from pathlib import Path

from inferstack.runtime.auth import ApiKeyAuth, load_key_hashes
from inferstack.runtime.errors import (
    ConfigError,
    MethodNotAllowed,
    NotFound,
    RequestTimeout,
    ShuttingDown,
)
from inferstack.runtime.handlers import Handler, Handlers
from inferstack.runtime.http import (
    ClientDisconnected,
    Receive,
    Scope,
    Send,
    error_response,
    send_response,
)
from inferstack.runtime.logs import clip
from inferstack.runtime.manifest import Manifest
from inferstack.runtime.provenance import check_saved_with
from inferstack.runtime.service import ModelService
from inferstack.runtime.settings import RuntimeSettings

log = logging.getLogger("inferstack.runtime")
DRAIN_ENDED = "server is shutting down: the drain ended before this request was answered"
# Readiness routes: their 503 while the model loads is what probes expect, not an error
_PROBES = frozenset({"/ping", "/ready", "/v2/health/ready", "/v2/models/{name}/ready"})


class InferenceApp:
    """Serves one bundle over SageMaker, Azure ML, V2 and ``/predict``, plus ``/metrics``."""

    def __init__(self, settings: RuntimeSettings, bundle_dir: Path | None = None) -> None:
        self.settings = settings
        self.service = ModelService(settings, bundle_dir)
        if self.service.manifest is not None:  # an unreadable one keeps readiness false
            check_start(self.service.manifest, settings)
        self.auth = ApiKeyAuth(load_key_hashes(settings))
        h = Handlers(self.service, settings)
        self.timeout = settings.request_timeout_s
        self.log_rate = settings.log_sample_rate
        self.handlers = h
        # path -> method -> (route label, handler, needs auth)
        self.routes: dict[str, dict[str, tuple[str, Handler, bool]]] = {}
        for path, method, handler, auth in [
            ("/ping", "GET", h.ready_check, False),
            ("/invocations", "POST", h.invocations, True),
            ("/predict", "POST", h.predict, True),
            ("/", "GET", h.live, False),
            ("/live", "GET", h.live, False),
            ("/ready", "GET", h.ready_check, False),
            ("/score", "POST", h.score, True),
            ("/explain", "POST", h.explain, True),
            ("/feedback", "POST", h.feedback, True),
            ("/v2", "GET", h.v2_server, False),
            ("/v2/health/live", "GET", h.live, False),
            ("/v2/health/ready", "GET", h.ready_check, False),
            ("/metrics", "GET", h.metrics, settings.metrics_auth),
            # It names every feature, as V2 metadata does: the same key guards both.
            ("/openapi.json", "GET", h.openapi, True),
        ]:
            self.routes.setdefault(path, {})[method] = (path, handler, auth)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.handle(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        """Start loading at startup; drain the batcher at shutdown."""
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.service.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.service.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _loading(self) -> bool:
        service = self.service
        return not service.ready and not service.load_error and service.manifest is not None

    def resolve(self, path: str, method: str) -> tuple[str, Handler, bool, list[str]]:
        """Route label, handler, whether it needs auth, and path parameters."""
        methods = self.routes.get(path)
        params: list[str] = []
        if methods is None and path.startswith("/v2/models/"):
            methods, params = self._v2_model_route(path)
        elif methods is None and path.startswith("/v1/models/") and path.endswith(":explain"):
            name = path[len("/v1/models/") : -len(":explain")]
            if name and "/" not in name:
                label = "/v1/models/{name}:explain"
                methods, params = {"POST": (label, self.handlers.explain, True)}, [name]
        if methods is None:
            raise NotFound(f"no route {clip(path, 100)}")
        entry = methods.get(method)
        if entry is None:
            raise MethodNotAllowed(
                f"{method} not allowed on {clip(path, 100)}; use {', '.join(methods)}"
            )
        return (*entry, params)

    def _v2_model_route(
        self, path: str
    ) -> tuple[dict[str, tuple[str, Handler, bool]] | None, list[str]]:
        parts = path.split("/")[3:]
        params = parts[:1]
        if len(parts) >= 3 and parts[1] == "versions":
            params, parts = parts[:3:2], [parts[0], *parts[3:]]
        table: dict[tuple[str, ...], tuple[str, str, Handler, bool]] = {
            (): ("GET", "/v2/models/{name}", self.handlers.v2_model, True),
            ("ready",): ("GET", "/v2/models/{name}/ready", self.handlers.v2_model_ready, False),
            ("infer",): ("POST", "/v2/models/{name}/infer", self.handlers.v2_infer, True),
        }
        found = table.get(tuple(parts[1:]))
        if found is None or not params or not params[0]:
            return None, []
        method, label, handler, auth = found
        return {method: (label, handler, auth)}, params

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer one request: route, auth, timeout, error mapping, metrics."""
        start = time.perf_counter()
        route = "unmatched"
        inflight = self.service.metrics.inflight
        inflight.inc()
        try:
            headers = dict(scope["headers"])
            route, handler, needs_auth, params = self.resolve(scope["path"], scope["method"])
            async with asyncio.timeout(self.timeout):
                if needs_auth and self.auth.enabled:
                    self.auth.check(headers.get(b"authorization"), headers.get(b"x-api-key"))
                response = await handler(receive, headers, params)
        except TimeoutError:
            response = error_response(
                RequestTimeout(f"request not answered within {self.timeout} s")
            )
        except ClientDisconnected:
            return
        except asyncio.CancelledError:
            # uvicorn cancels what still runs when the bounded drain ends: answer 503.
            self.service.metrics.drain_refused.inc()
            with contextlib.suppress(Exception):
                await send_response(send, error_response(ShuttingDown(DRAIN_ENDED)))
            log.warning(
                "request answered 503: the shutdown drain ended",
                extra={"path": clip(scope["path"]), "route": route, "status": 503},
            )
            raise
        except Exception as err:  # noqa: BLE001 - the one error handler maps every error to a response
            response = error_response(err)
        finally:  # also when the task is cancelled (graceful-shutdown timeout)
            inflight.dec()
        await send_response(send, response)
        status = response.status
        elapsed = time.perf_counter() - start
        self.service.metrics.observe_request(route, status, elapsed)
        if status == 503 and route in _PROBES and self._loading():
            return  # polled while loading (a log line each, competing with the load)
        if status >= 400 or (self.log_rate and random.random() < self.log_rate):  # noqa: S311
            level = (
                logging.ERROR
                if status >= 500
                else logging.WARNING
                if status >= 400
                else logging.INFO
            )
            log.log(
                level,
                "request",
                extra={
                    "method": clip(scope["method"]),
                    "path": clip(scope["path"]),
                    "route": route,
                    "status": status,
                    "ms": round(elapsed * 1000, 3),
                    "error": response.body[:300].decode("utf-8", "replace")
                    if status >= 400
                    else None,
                },
            )


def check_start(manifest: Manifest, settings: RuntimeSettings) -> None:
    """Refuse a bundle the deployment did not ask for, or one unsafe to load here.

    ``INFERSTACK_MODEL_VERSION`` must equal the manifest's version when set; the
    versions that saved the artifact are checked (see ``provenance``), warning on
    another minor version and refusing another major one unless
    ``INFERSTACK_ALLOW_VERSION_MISMATCH``. Raises ``ConfigError`` or ``BundleError``.
    """
    if settings.model_version is not None and settings.model_version != manifest.version:
        raise ConfigError(
            f"INFERSTACK_MODEL_VERSION is {settings.model_version} but the bundle "
            f"'{manifest.name}' is version {manifest.version}: deploy the bundle of "
            f"{settings.model_version}, or change the deployment's model version"
        )
    check_saved_with(manifest, settings.allow_version_mismatch)


def create_app(
    settings: RuntimeSettings | None = None, bundle_dir: Path | None = None
) -> InferenceApp:
    """The ASGI app for a bundle; settings default to the environment."""
    return InferenceApp(settings or RuntimeSettings(), bundle_dir)


__all__ = ["InferenceApp", "check_start", "create_app"]
