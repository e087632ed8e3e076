"""The ASGI application: one lean router for every protocol the runtime speaks."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from inferstack.runtime import protocols
from inferstack.runtime.auth import ApiKeyAuth, load_key_hashes
from inferstack.runtime.errors import (
    MethodNotAllowed,
    ModelNotReady,
    NotFound,
    RequestTimeout,
    UnsupportedMediaType,
)
from inferstack.runtime.http import (
    CSV,
    TEXT,
    ClientDisconnected,
    Receive,
    Response,
    Scope,
    Send,
    error_response,
    json_response,
    read_body,
    send_response,
)
from inferstack.runtime.openapi import openapi_document
from inferstack.runtime.service import ModelService
from inferstack.runtime.settings import RuntimeSettings

log = logging.getLogger("inferstack.runtime")
Handler = Callable[[Receive, dict[bytes, bytes], list[str]], Awaitable[Response]]
Decoder = Callable[[bytes, dict[bytes, bytes]], np.ndarray]
OK = json_response(200, {"status": "ok"})


class InferenceApp:
    """Serves one bundle over SageMaker, Azure ML, V2 and ``/predict``, plus ``/metrics``."""

    def __init__(self, settings: RuntimeSettings, bundle_dir: Path | None = None) -> None:
        self.settings = settings
        self.service = ModelService(settings, bundle_dir)
        self.auth = ApiKeyAuth(load_key_hashes(settings))
        self.limit = settings.max_request_bytes
        self.timeout = settings.request_timeout_s
        self.log_rate = settings.log_sample_rate
        # path -> method -> (route label, handler, needs auth)
        self.routes: dict[str, dict[str, tuple[str, Handler, bool]]] = {}
        for path, method, handler, auth in [
            ("/ping", "GET", self.ready_check, False),
            ("/invocations", "POST", self.invocations, True),
            ("/predict", "POST", self.predict, True),
            ("/", "GET", self.live, False),
            ("/live", "GET", self.live, False),
            ("/ready", "GET", self.ready_check, False),
            ("/score", "POST", self.score, True),
            ("/v2", "GET", self.v2_server, False),
            ("/v2/health/live", "GET", self.live, False),
            ("/v2/health/ready", "GET", self.ready_check, False),
            ("/metrics", "GET", self.metrics, False),
            ("/openapi.json", "GET", self.openapi, False),
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

    def resolve(self, path: str, method: str) -> tuple[str, Handler, bool, list[str]]:
        """Route label, handler, whether it needs auth, and path parameters."""
        methods = self.routes.get(path)
        params: list[str] = []
        if methods is None and path.startswith("/v2/models/"):
            methods, params = self._v2_model_route(path)
        if methods is None:
            raise NotFound(f"no route {path}")
        entry = methods.get(method)
        if entry is None:
            raise MethodNotAllowed(f"{method} not allowed on {path}; use {', '.join(methods)}")
        return (*entry, params)

    def _v2_model_route(
        self, path: str
    ) -> tuple[dict[str, tuple[str, Handler, bool]] | None, list[str]]:
        parts = path.split("/")[3:]
        params = parts[:1]
        if len(parts) >= 3 and parts[1] == "versions":
            params, parts = parts[:3:2], [parts[0], *parts[3:]]
        table: dict[tuple[str, ...], tuple[str, str, Handler, bool]] = {
            (): ("GET", "/v2/models/{name}", self.v2_model, True),
            ("ready",): ("GET", "/v2/models/{name}/ready", self.v2_model_ready, False),
            ("infer",): ("POST", "/v2/models/{name}/infer", self.v2_infer, True),
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
        self.service.metrics.inflight.inc()
        try:
            headers = dict(scope["headers"])
            route, handler, needs_auth, params = self.resolve(scope["path"], scope["method"])
            async with asyncio.timeout(self.timeout):
                if needs_auth and self.auth.digests:
                    self.auth.check(headers.get(b"authorization"), headers.get(b"x-api-key"))
                response = await handler(receive, headers, params)
        except TimeoutError:
            response = error_response(
                RequestTimeout(f"request not answered within {self.timeout} s")
            )
        except ClientDisconnected:
            self.service.metrics.inflight.dec()
            return
        except Exception as err:  # the one error handler maps every error to a response
            response = error_response(err)
        self.service.metrics.inflight.dec()
        await send_response(send, response)
        status = response.status
        elapsed = time.perf_counter() - start
        self.service.metrics.observe_request(route, status, elapsed)
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
                    "method": scope["method"],
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "ms": round(elapsed * 1000, 3),
                    "error": response.body[:300].decode("utf-8", "replace")
                    if status >= 400
                    else None,
                },
            )

    # ---- health -------------------------------------------------------------
    async def live(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        return OK

    async def ready_check(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        if not self.service.ready:
            raise ModelNotReady(self.service._not_ready_message())
        return OK

    async def metrics(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        self.service.refresh_drift()
        return Response(
            200, self.service.metrics.exposition(), self.service.metrics.content_type.encode()
        )

    async def openapi(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        return json_response(200, openapi_document(self.service.manifest))

    # ---- inference ----------------------------------------------------------
    async def _infer(
        self, route: str, receive: Receive, headers: dict[bytes, bytes], decode: Decoder
    ) -> Any:
        service = self.service
        batcher = service.batcher
        model = service.model
        if batcher is None or model is None:
            raise ModelNotReady(service._not_ready_message())
        batcher.incoming += 1
        try:
            body = await read_body(receive, headers, self.limit)
            x = decode(body, headers)
        finally:
            batcher.incoming -= 1
        return await service.submit(x, route)

    def _decoder(self) -> Any:
        assert self.service.model is not None
        return self.service.model.decoder

    def _json_rows(self, body: bytes, headers: dict[bytes, bytes]) -> np.ndarray:
        return protocols.decode_json(protocols.parse_json(body), self._decoder())

    def _sagemaker_rows(self, body: bytes, headers: dict[bytes, bytes]) -> np.ndarray:
        ctype = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
        if ctype == CSV:
            return self._decoder().decode_csv(body.decode("utf-8", "replace"))
        if ctype in (b"application/json", b"", b"*/*"):
            return self._json_rows(body, headers)
        raise UnsupportedMediaType(
            f"Content-Type '{ctype.decode('latin-1')}': use application/json or text/csv"
        )

    async def predict(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        out = await self._infer("/predict", receive, headers, self._json_rows)
        return Response(
            200, orjson.dumps({"predictions": protocols.jsonable(out)}, option=protocols.JSON_OPTS)
        )

    async def invocations(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        out = await self._infer("/invocations", receive, headers, self._sagemaker_rows)
        if CSV in headers.get(b"accept", b""):
            return Response(200, protocols.encode_csv(out), CSV)
        return Response(
            200, orjson.dumps({"predictions": protocols.jsonable(out)}, option=protocols.JSON_OPTS)
        )

    async def score(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        def rows(body: bytes, _h: dict[bytes, bytes]) -> np.ndarray:
            return protocols.decode_azure(protocols.parse_json(body), self._decoder())

        out = await self._infer("/score", receive, headers, rows)
        return Response(
            200, orjson.dumps({"predictions": protocols.jsonable(out)}, option=protocols.JSON_OPTS)
        )

    # ---- Open Inference Protocol V2 ----------------------------------------
    def _check_model(self, params: list[str]) -> None:
        s = self.service
        if params[0] != s.name:
            raise NotFound(f"model '{params[0]}' not found; this server serves '{s.name}'")
        if len(params) > 1 and params[1] != s.version:
            raise NotFound(f"version '{params[1]}' of '{s.name}' not found; serving '{s.version}'")

    async def v2_server(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        from inferstack.runtime.openapi import server_metadata

        return json_response(200, server_metadata())

    async def v2_model(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        self._check_model(params)
        from inferstack.runtime.openapi import v2_model_metadata

        if self.service.manifest is None:
            raise ModelNotReady(self.service._not_ready_message())
        return json_response(200, v2_model_metadata(self.service.manifest))

    async def v2_model_ready(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        self._check_model(params)
        return await self.ready_check(receive, headers, params)

    async def v2_infer(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        self._check_model(params)
        request_id: list[Any] = [None]

        def rows(body: bytes, _h: dict[bytes, bytes]) -> np.ndarray:
            obj = protocols.parse_json(body)
            request_id[0] = obj.get("id") if isinstance(obj, dict) else None
            return protocols.decode_v2(obj, self._decoder())

        out = await self._infer("/v2/models/{name}/infer", receive, headers, rows)
        s = self.service
        assert s.manifest is not None
        body = protocols.encode_v2(out, s.name, s.version, s.manifest.output.kind, request_id[0])
        return Response(200, body)


def create_app(
    settings: RuntimeSettings | None = None, bundle_dir: Path | None = None
) -> InferenceApp:
    """The ASGI app for a bundle; settings default to the environment."""
    return InferenceApp(settings or RuntimeSettings(), bundle_dir)


__all__ = ["TEXT", "InferenceApp", "create_app"]
