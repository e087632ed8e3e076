"""Route handlers: health, metrics, OpenAPI and the four inference protocols.

A body of at least ``INFERSTACK_OFFLOAD_BYTES`` is decoded, and its answer encoded, in
a thread, so that one large request does not hold the event loop (and every other
client) while it is parsed; small requests keep the direct path.

The OpenAPI document, the metadata routes and ``/feedback`` import their modules on
their first request: the server answers its readiness route without them.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np
import orjson

from inferstack.runtime import protocols, v2_binary
from inferstack.runtime.capture_ids import accept_id
from inferstack.runtime.contract import REQUEST_ID_HEADER
from inferstack.runtime.errors import (
    InvalidInput,
    ModelNotReady,
    NotFound,
    UnsupportedMediaType,
)
from inferstack.runtime.http import CSV, Receive, Response, json_response, read_body
from inferstack.runtime.logs import clip
from inferstack.runtime.schema import RowDecoder
from inferstack.runtime.service import ModelService
from inferstack.runtime.settings import RuntimeSettings

Handler = Callable[[Receive, dict[bytes, bytes], list[str]], Awaitable[Response]]
Decoder = Callable[[bytes, dict[bytes, bytes]], np.ndarray]
OK = json_response(200, {"status": "ok"})
READY_HOLD_S = 0.25
"""How long a readiness probe that arrives while the model loads waits for the load to
end: it answers 200 as soon as the model is ready, else 503 after this. Well inside every
prober's timeout (kubelet's and SageMaker's are at least 1 s), it spares a loading
process from answering a poller's every request (a wake-up and a turn of the GIL each,
taken from the load)."""
REQUEST_ID = REQUEST_ID_HEADER.lower().encode()
T = TypeVar("T")
# One thread for large bodies: parsers hold the GIL, so two at once would only take
# more of it from the event loop.
_LARGE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inferstack-large")


def _predictions(out: Any) -> Response:
    return Response(
        200, orjson.dumps({"predictions": protocols.jsonable(out)}, option=protocols.JSON_OPTS)
    )


class Inferred:
    """A request's outputs, its id, and whether it was large enough for a thread."""

    __slots__ = ("id", "large", "out")

    def __init__(self, out: Any, large: bool, request_id: str) -> None:
        self.out = out
        self.large = large
        self.id = request_id

    def tagged(self, response: Response) -> Response:
        """``response`` with the ``X-Request-Id`` header."""
        header = (REQUEST_ID, self.id.encode("latin-1"))
        if response.headers is None:
            response.headers = [header]
        else:
            response.headers.append(header)
        return response

    async def encode(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``: in the large-request thread for a large request, else right here."""
        if self.large:
            return await asyncio.get_running_loop().run_in_executor(
                _LARGE, functools.partial(fn, *args)
            )
        return fn(*args)


class Handlers:
    """One method per route; each takes ``(receive, headers, path params)``."""

    def __init__(self, service: ModelService, settings: RuntimeSettings) -> None:
        self.service = service
        self.limit = settings.max_request_bytes
        self.body_timeout = settings.body_timeout_s
        self.offload_bytes = settings.offload_bytes

    # ---- health -------------------------------------------------------------
    async def live(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        return OK

    async def ready_check(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        if not await self.service.wait_loaded(READY_HOLD_S):
            raise ModelNotReady(self.service.not_ready_message())
        return OK

    async def metrics(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        self.service.refresh_drift()
        self.service.refresh_quality()
        return Response(
            200, self.service.metrics.exposition(), self.service.metrics.content_type.encode()
        )

    async def openapi(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        from inferstack.runtime.openapi import openapi_document

        return json_response(200, openapi_document(self.service.manifest))

    # ---- inference ----------------------------------------------------------
    async def _infer(
        self,
        route: str,
        receive: Receive,
        headers: dict[bytes, bytes],
        decode: Decoder,
        body_id: list[Any] | None = None,
    ) -> Inferred:
        """Read, decode and run one request; its id is the caller's ``X-Request-Id`` when
        acceptable, else the id in its body (``body_id[0]``, V2), else a fresh one."""
        service = self.service
        batcher, _ = await service.loaded()
        batcher.incoming += 1
        try:
            body = await read_body(receive, headers, self.limit, self.body_timeout)
            large = len(body) >= self.offload_bytes
            if large:
                loop = asyncio.get_running_loop()
                x = await loop.run_in_executor(_LARGE, decode, body, headers)
            else:
                x = decode(body, headers)
        finally:
            batcher.incoming -= 1
        request_id = accept_id(headers.get(REQUEST_ID))
        if request_id is None and body_id is not None:
            request_id = accept_id(body_id[0]) if isinstance(body_id[0], str) else None
        request_id = request_id or service.ids.new()
        return Inferred(await service.submit(x, route, request_id), large, request_id)

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
        done = await self._infer("/predict", receive, headers, self._json_rows)
        return done.tagged(await done.encode(_predictions, done.out))

    async def invocations(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        done = await self._infer("/invocations", receive, headers, self._sagemaker_rows)
        if CSV in headers.get(b"accept", b""):
            csv = await done.encode(protocols.encode_csv, done.out)
            return done.tagged(Response(200, csv, CSV))
        return done.tagged(await done.encode(_predictions, done.out))

    async def score(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        def rows(body: bytes, _h: dict[bytes, bytes]) -> np.ndarray:
            return protocols.decode_azure(protocols.parse_json(body), self._decoder())

        done = await self._infer("/score", receive, headers, rows)
        return done.tagged(await done.encode(_predictions, done.out))

    # ---- explanations (never through the batcher) ------------------------------
    async def explain(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        if params:  # KServe V1's /v1/models/{name}:explain
            self._check_model(params)
        await self.service.loaded()
        body = await read_body(receive, headers, self.limit, self.body_timeout)
        obj = protocols.parse_json(body)
        x = protocols.decode_json(obj, self._decoder())
        request_id = obj.get("id") if isinstance(obj, dict) else None
        if not isinstance(request_id, str):
            header = headers.get(b"x-request-id")
            request_id = clip(header.decode("latin-1"), 100) if header else None
        answer = await self.service.explanations.explain(x, request_id)
        return Response(200, orjson.dumps(answer, option=protocols.JSON_OPTS))

    # ---- Open Inference Protocol V2 ----------------------------------------
    def _check_model(self, params: list[str]) -> None:
        s = self.service
        # Never names what is served: /ready answers without a key.
        if params[0] != s.name:
            raise NotFound(f"model '{clip(params[0], 100)}' not found")
        if len(params) > 1 and params[1] != s.version:
            raise NotFound(f"version '{clip(params[1], 100)}' of this model not found")

    async def v2_server(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        from inferstack.runtime.openapi import server_metadata

        return json_response(200, server_metadata())

    async def v2_model(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        self._check_model(params)
        if self.service.manifest is None:
            raise ModelNotReady(self.service.not_ready_message())
        from inferstack.runtime.openapi import v2_model_metadata

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
        s = self.service
        assert s.manifest is not None
        kind = s.manifest.output.kind
        request: list[Any] = [None, False]  # the request's id, whether it wants binary output

        def rows(body: bytes, h: dict[bytes, bytes]) -> np.ndarray:
            obj, binary = _v2_body(body, h)
            if isinstance(obj, dict):
                request[0] = obj.get("id")
                request[1] = v2_binary.binary_output(obj, kind)
            return protocols.decode_v2(obj, self._decoder(), binary)

        done = await self._infer("/v2/models/{name}/infer", receive, headers, rows, request)
        if request[1]:
            body, size = await done.encode(
                protocols.encode_v2_binary, done.out, s.name, s.version, kind, request[0]
            )
            header = [(b"inference-header-content-length", str(size).encode())]
            return done.tagged(Response(200, body, v2_binary.OCTET_STREAM, header))
        body = await done.encode(protocols.encode_v2, done.out, s.name, s.version, kind, request[0])
        return done.tagged(Response(200, body))

    # ---- live quality ---------------------------------------------------------
    async def feedback(
        self, receive: Receive, headers: dict[bytes, bytes], params: list[str]
    ) -> Response:
        """Outcomes for earlier requests: per-item results and counts (200 once parsed)."""
        from inferstack.runtime.feedback import RESULTS, parse_outcomes

        await self.service.loaded()
        body = await read_body(receive, headers, self.limit, self.body_timeout)
        items = parse_outcomes(protocols.parse_json(body))
        feedback = self.service.feedback
        if feedback is None:
            results = [{"id": None, "result": "invalid", "reason": "feedback is off"}] * len(items)
            records: list[dict[str, Any]] = []
        else:
            results, records = feedback.join(items)
        counts = dict.fromkeys(RESULTS, 0)
        for r in results:
            counts[r["result"]] += 1
        self.service.metrics.count_outcomes(counts)
        capture = self.service.capture
        if records and capture is not None:
            capture.put(records)
        return json_response(200, {"results": results, "counts": counts})


def _v2_body(body: bytes, headers: dict[bytes, bytes]) -> tuple[Any, memoryview | None]:
    """A V2 request's JSON, and the binary tensor data after it (None when it has none)."""
    encoding = headers.get(b"content-encoding")
    if encoding is not None and encoding.strip().lower() != b"identity":
        raise UnsupportedMediaType(
            f"Content-Encoding '{clip(encoding.decode('latin-1'), 40)}': send the body uncompressed"
        )
    split_at = headers.get(v2_binary.HEADER)
    if split_at is None:
        try:
            return protocols.parse_json(body), None
        except InvalidInput as err:
            raise InvalidInput(
                f"{err.message}; a body carrying binary tensor data needs the "
                "Inference-Header-Content-Length header"
            ) from err
    header, binary = v2_binary.split(body, split_at)
    return protocols.parse_json(header), binary
