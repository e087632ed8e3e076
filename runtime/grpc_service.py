"""The Open Inference Protocol over gRPC (KServe's ``GRPCInferenceService``).

It listens on ``INFERSTACK_GRPC_PORT`` in the HTTP server's event loop and shares the
app's model, batcher, API keys (metadata ``x-api-key`` or ``authorization: Bearer``),
metrics (route ``grpc:<Method>``; the ``code`` label is the HTTP status the same
answer has on HTTP, so the 5xx alarms cover both) and the bounded SIGTERM drain.
Errors keep the HTTP side's messages and map to gRPC status codes (``STATUS``).
Requests arrive as bytes and are parsed here, so a message that is not valid protobuf
is an ``INVALID_ARGUMENT`` naming it, not an error of the gRPC library. The streaming
``ModelStreamInfer`` is ``grpc_stream``'s, on top of ``start_infer`` and ``answer``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import grpc
import numpy as np
from google.protobuf.message import DecodeError, Message

from inferstack.runtime import grpc_predict_v2_pb2 as pb
from inferstack.runtime.app import DRAIN_ENDED, InferenceApp
from inferstack.runtime.capture_ids import accept_id
from inferstack.runtime.errors import (
    InferstackError,
    InvalidInput,
    ModelNotReady,
    NotFound,
    PayloadTooLarge,
    RequestTimeout,
    ShuttingDown,
    Unauthorized,
)
from inferstack.runtime.grpc_tensors import check_outputs, infer_response, input_tensors
from inferstack.runtime.logs import clip
from inferstack.runtime.openapi import server_metadata, v2_model_metadata
from inferstack.runtime.protocols import tensors_to_batch

log = logging.getLogger("inferstack.runtime")
SERVICE = "inference.GRPCInferenceService"
STATUS: dict[type[InferstackError], grpc.StatusCode] = {
    InvalidInput: grpc.StatusCode.INVALID_ARGUMENT,
    Unauthorized: grpc.StatusCode.UNAUTHENTICATED,
    NotFound: grpc.StatusCode.NOT_FOUND,
    ModelNotReady: grpc.StatusCode.UNAVAILABLE,
    ShuttingDown: grpc.StatusCode.UNAVAILABLE,
    PayloadTooLarge: grpc.StatusCode.RESOURCE_EXHAUSTED,
    RequestTimeout: grpc.StatusCode.DEADLINE_EXCEEDED,
}
"""gRPC status per runtime error; any other error is ``INTERNAL``."""
# Large messages are parsed and answered here, off the event loop (one at a time).
_LARGE = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inferstack-grpc-large")


def status_of(err: InferstackError) -> grpc.StatusCode:
    """The gRPC status code of a runtime error."""
    for cls in type(err).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return grpc.StatusCode.INTERNAL


def internal_error(err: Exception) -> InferstackError:
    """Log an unexpected error; the generic error (``INTERNAL``) answered in its place."""
    log.error("unhandled error", exc_info=err)
    return InferstackError("internal server error")


def log_refused(route: str, error: InferstackError, elapsed: float) -> None:
    """Log a request answered with an error: ERROR for a 5xx status, else WARNING."""
    log.log(
        logging.ERROR if error.status_code >= 500 else logging.WARNING,
        "request",
        extra={
            "route": route,
            "status": error.status_code,
            "grpc_status": status_of(error).name,
            "ms": round(elapsed * 1000, 3),
            "error": clip(error.message, 300),
        },
    )


def _parse(cls: type[Message], body: bytes) -> Any:
    try:
        return cls.FromString(body)
    except DecodeError as err:
        raise InvalidInput(f"request: not a valid {cls.__name__} message: {err}") from err


class GrpcInference:
    """The six RPCs of ``GRPCInferenceService`` over one ``InferenceApp``'s model."""

    def __init__(self, app: InferenceApp) -> None:
        self.app = app
        self.service = app.service
        settings = app.settings
        self.timeout = settings.request_timeout_s
        self.offload_bytes = settings.offload_bytes

    def handler(
        self, streams: Mapping[str, grpc.RpcMethodHandler] | None = None
    ) -> grpc.GenericRpcHandler:
        """The generic handler to add to a ``grpc.aio`` server (bytes in, bytes out).

        ``streams``: the service's streaming methods, by name, served beside the unary ones.
        """
        rpcs: dict[str, tuple[Callable[[bytes], Awaitable[bytes]], bool]] = {
            "ServerLive": (self.server_live, False),
            "ServerReady": (self.server_ready, False),
            "ModelReady": (self.model_ready, False),
            "ServerMetadata": (self.server_metadata, False),
            "ModelMetadata": (self.model_metadata, True),
            "ModelInfer": (self.model_infer, True),
        }
        return grpc.method_handlers_generic_handler(
            SERVICE,
            {
                name: grpc.unary_unary_rpc_method_handler(
                    functools.partial(self._call, f"grpc:{name}", fn, needs_auth)
                )
                for name, (fn, needs_auth) in rpcs.items()
            }
            | dict(streams or {}),
        )

    async def _call(
        self,
        route: str,
        fn: Callable[[bytes], Awaitable[bytes]],
        needs_auth: bool,
        body: bytes,
        context: grpc.aio.ServicerContext,
    ) -> bytes:
        """One RPC: auth, timeout, error mapping, metrics and logs (as ``InferenceApp.handle``)."""
        start = time.perf_counter()
        metrics = self.service.metrics
        metrics.inflight.inc()
        error: InferstackError | None = None
        try:
            async with asyncio.timeout(self.timeout):
                if needs_auth and self.app.auth.enabled:
                    self.check_key(context)
                answer = await fn(body)
        except TimeoutError:
            error = self.timed_out()
        except InferstackError as err:
            error = err
        except asyncio.CancelledError:
            # grpc cancels what still runs when the bounded drain ends (or the client left).
            metrics.drain_refused.inc()
            log.warning("gRPC call cancelled: " + DRAIN_ENDED, extra={"route": route})
            raise
        except Exception as err:  # noqa: BLE001 - internal_error logs it, answers INTERNAL
            error = internal_error(err)
        finally:
            metrics.inflight.dec()
        elapsed = time.perf_counter() - start
        status = 200 if error is None else error.status_code
        metrics.observe_request(route, status, elapsed)
        if error is None:
            return answer
        log_refused(route, error, elapsed)
        await context.abort(status_of(error), error.message)
        raise AssertionError("unreachable: abort raises")  # pragma: no cover

    def timed_out(self) -> RequestTimeout:
        """The error of a request not answered within ``INFERSTACK_REQUEST_TIMEOUT_S``."""
        return RequestTimeout(f"request not answered within {self.timeout} s")

    def check_key(self, context: grpc.aio.ServicerContext) -> None:
        """Refuse a call without a valid API key in its metadata (``Unauthorized``)."""
        metadata: dict[str, bytes] = {}
        for key, value in context.invocation_metadata() or ():
            metadata[key.lower()] = value if isinstance(value, bytes) else value.encode()
        self.app.auth.check(metadata.get("authorization"), metadata.get("x-api-key"))

    def _check_model(self, name: str, version: str) -> None:
        s = self.service
        if name != s.name:  # never names what is served: ModelReady answers without a key
            raise NotFound(f"model '{clip(name, 100)}' not found")
        if version and version != s.version:
            raise NotFound(f"version '{clip(version, 100)}' of this model not found")

    # ---- health and metadata ------------------------------------------------
    async def server_live(self, body: bytes) -> bytes:
        _parse(pb.ServerLiveRequest, body)
        return pb.ServerLiveResponse(live=True).SerializeToString()

    async def server_ready(self, body: bytes) -> bytes:
        _parse(pb.ServerReadyRequest, body)
        return pb.ServerReadyResponse(ready=self.service.ready).SerializeToString()

    async def model_ready(self, body: bytes) -> bytes:
        request = _parse(pb.ModelReadyRequest, body)
        self._check_model(request.name, request.version)
        return pb.ModelReadyResponse(ready=self.service.ready).SerializeToString()

    async def server_metadata(self, body: bytes) -> bytes:
        _parse(pb.ServerMetadataRequest, body)
        return pb.ServerMetadataResponse(**server_metadata()).SerializeToString()

    async def model_metadata(self, body: bytes) -> bytes:
        request = _parse(pb.ModelMetadataRequest, body)
        self._check_model(request.name, request.version)
        s = self.service
        if s.manifest is None:
            raise ModelNotReady(s.not_ready_message())
        meta = v2_model_metadata(s.manifest, s.model.probe_output if s.model else None)
        return pb.ModelMetadataResponse(
            name=meta["name"],
            versions=meta["versions"],
            platform=meta["platform"],
            inputs=meta["inputs"],
            outputs=meta["outputs"],
        ).SerializeToString()

    # ---- inference ------------------------------------------------------------
    async def model_infer(self, body: bytes) -> bytes:
        pending = await self.start_infer(body)
        return await self.answer(pending, await pending.outputs)

    async def start_infer(self, body: bytes, route: str = "grpc:ModelInfer") -> PendingInfer:
        """Parse, check, decode and queue one ``ModelInferRequest`` (``InferstackError`` if bad)."""
        # Plain calls, not awaits, unless a large message goes off the loop: each await
        # of a coroutine that suspends costs more than some of these steps.
        large = len(body) >= self.offload_bytes
        if large:
            request = await _off_loop(_parse, pb.ModelInferRequest, body)
        else:
            request = _parse(pb.ModelInferRequest, body)
        self._check_model(request.model_name, request.model_version)
        s = self.service
        batcher, model = s.batcher, s.model
        if batcher is None or model is None:  # loading: wait for it, or not ready
            batcher, model = await s.loaded()
        kind = model.manifest.output.kind
        check_outputs(request, kind)
        batcher.incoming += 1
        try:
            if large:
                x, raw = await _off_loop(_decode, request, model.decoder)
            else:
                x, raw = _decode(request, model.decoder)
        finally:
            batcher.incoming -= 1
        # The response's id is the request's id (the key of its captured record): the
        # caller's when safe to echo, else a fresh one, as X-Request-Id on HTTP.
        request_id = accept_id(request.id) or s.ids.new()
        outputs = s.submit(x, route, request_id)
        return PendingInfer(
            outputs, request_id, kind, raw, large or len(x) * 8 >= self.offload_bytes
        )

    async def answer(self, pending: PendingInfer, out: Any, stream: bool = False) -> bytes:
        """The serialized ``ModelInferResponse`` of a request's outputs.

        ``stream``: wrapped in a ``ModelStreamInferResponse``, as ``ModelStreamInfer`` answers.
        """
        s = self.service
        args = (out, s.name, s.version, pending.kind, pending.request_id, pending.raw, stream)
        if pending.large:
            return await _off_loop(_encode, *args)
        return _encode(*args)


@dataclass(slots=True)
class PendingInfer:
    """A ``ModelInferRequest`` queued in the batcher, and how to answer it."""

    outputs: asyncio.Future[Any]
    request_id: str
    kind: str
    raw: bool
    large: bool
    """Encode the answer off the event loop."""


def _decode(request: pb.ModelInferRequest, decoder: Any) -> tuple[np.ndarray, bool]:
    tensors, raw = input_tensors(request)
    return tensors_to_batch(tensors, decoder), raw


async def _off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_LARGE, functools.partial(fn, *args))


def _encode(
    out: Any, name: str, version: str, kind: str, request_id: str, raw: bool, stream: bool
) -> bytes:
    response = infer_response(out, name, version, kind, request_id, raw)
    if stream:
        return pb.ModelStreamInferResponse(infer_response=response).SerializeToString()
    return response.SerializeToString()
