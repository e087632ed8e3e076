"""Route handlers: health, metrics, OpenAPI and the four inference protocols."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson

from inferstack.runtime import protocols
from inferstack.runtime.errors import ModelNotReady, NotFound, UnsupportedMediaType
from inferstack.runtime.http import CSV, Receive, Response, json_response, read_body
from inferstack.runtime.openapi import openapi_document, server_metadata, v2_model_metadata
from inferstack.runtime.schema import RowDecoder
from inferstack.runtime.service import ModelService

Handler = Callable[[Receive, dict[bytes, bytes], list[str]], Awaitable[Response]]
Decoder = Callable[[bytes, dict[bytes, bytes]], np.ndarray]
OK = json_response(200, {"status": "ok"})


def _predictions(out: Any) -> Response:
    return Response(
        200, orjson.dumps({"predictions": protocols.jsonable(out)}, option=protocols.JSON_OPTS)
    )


class Handlers:
    """One method per route; each takes ``(receive, headers, path params)``."""

    def __init__(self, service: ModelService, max_request_bytes: int) -> None:
        self.service = service
        self.limit = max_request_bytes

    # ---- health -------------------------------------------------------------
    async def live(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        return OK

    async def ready_check(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        if not self.service.ready:
            raise ModelNotReady(self.service.not_ready_message())
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
        batcher, _ = await service.loaded()
        batcher.incoming += 1
        try:
            body = await read_body(receive, headers, self.limit)
            x = decode(body, headers)
        finally:
            batcher.incoming -= 1
        return await service.submit(x, route)

    def _decoder(self) -> RowDecoder:
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
        return _predictions(out)

    async def invocations(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        out = await self._infer("/invocations", receive, headers, self._sagemaker_rows)
        if CSV in headers.get(b"accept", b""):
            return Response(200, protocols.encode_csv(out), CSV)
        return _predictions(out)

    async def score(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        def rows(body: bytes, _h: dict[bytes, bytes]) -> np.ndarray:
            return protocols.decode_azure(protocols.parse_json(body), self._decoder())

        out = await self._infer("/score", receive, headers, rows)
        return _predictions(out)

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
        return json_response(200, server_metadata())

    async def v2_model(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        self._check_model(params)
        if self.service.manifest is None:
            raise ModelNotReady(self.service.not_ready_message())
        model = self.service.model
        probe = model.probe_output if model is not None else None
        return json_response(200, v2_model_metadata(self.service.manifest, probe))

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
