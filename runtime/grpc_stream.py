"""``ModelStreamInfer``: V2 inference over one bidirectional gRPC stream (Triton's extension).

Triton's clients (``start_stream`` and ``async_stream_infer``) send requests on one stream
without waiting for answers; a stream then costs grpcio a read and a write per request
instead of a whole call, which is most of what a unary ``ModelInfer`` costs on a CPU
model. Each request is checked and queued in the shared batcher as soon as it is read
(at most ``STREAM_WINDOW`` ahead of the answers) and answered in the order read, with its
id. A request that fails gets a response whose ``error_message`` says what ``ModelInfer``
would have said (with its id, when it parsed), and the stream goes on. The API key is
checked once, from the stream's metadata. Metrics and logs count each request under the
route ``grpc:ModelStreamInfer``.

On SIGTERM a stream stops reading, answers every request it had read, then ends
``UNAVAILABLE`` (``STREAM_DRAINED``) at once, idle or not: a request sent after the drain
began is not run, and the client resends what was not answered on a new stream, which
reaches another replica. Only a model slower than the drain's grace leaves a request
unanswered when grpc cancels the stream (counted as refused by the drain, and logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from inferstack.runtime import grpc_predict_v2_pb2 as pb
from inferstack.runtime.app import DRAIN_ENDED
from inferstack.runtime.capture_ids import accept_id
from inferstack.runtime.errors import InferstackError
from inferstack.runtime.grpc_service import (
    GrpcInference,
    PendingInfer,
    internal_error,
    log_refused,
    status_of,
)

log = logging.getLogger("inferstack.runtime")
ROUTE = "grpc:ModelStreamInfer"
STREAM_WINDOW = 16
"""Requests of one stream read and queued ahead of their answers."""
STREAM_DRAINED = (
    "server is shutting down: this stream answered every request it read before the drain "
    "began and will run no more; resend the requests it did not answer on a new stream"
)


class _Drain:
    """Wakes a stream's writer when the drain begins."""


_DRAIN = _Drain()


@dataclass(slots=True)
class _Read:
    """One request read from the stream: queued in the batcher, or already refused."""

    start: float
    pending: PendingInfer | None
    error: InferstackError | None
    request_id: str = ""
    """For a refused request: its id when it parsed and the id is safe to echo."""


@dataclass(eq=False, slots=True)
class _Stream:
    """One open stream: its answers' queue, its reader, and where each side is."""

    context: grpc.aio.ServicerContext
    window: asyncio.Queue[_Read | _Drain | None] = field(
        default_factory=lambda: asyncio.Queue(STREAM_WINDOW)
    )
    reader: asyncio.Future[bool] = field(init=False)
    reading: bool = False
    """The reader waits in ``context.read()``."""
    answering: _Read | None = None
    """The request whose answer the writer waits for."""


class StreamInference:
    """The ``ModelStreamInfer`` RPC over a ``GrpcInference``'s model, batcher and auth."""

    def __init__(self, inference: GrpcInference) -> None:
        self.inference = inference
        self.service = inference.service
        self.timeout = inference.timeout
        self.draining = False
        self._streams: set[_Stream] = set()

    def handler(self) -> grpc.RpcMethodHandler:
        """The stream-stream method handler (bytes in, bytes out)."""
        return grpc.stream_stream_rpc_method_handler(self.serve)

    def begin_drain(self) -> None:
        """The server's drain began: every stream answers what it read, then ends."""
        self.draining = True
        for stream in self._streams:
            with contextlib.suppress(asyncio.QueueFull):  # a full window wakes its writer
                stream.window.put_nowait(_DRAIN)

    async def serve(self, requests: Any, context: grpc.aio.ServicerContext) -> None:
        """Answer one stream: read and queue ahead, write answers in order."""
        metrics = self.service.metrics
        if self.inference.app.auth.enabled:
            try:
                self.inference.check_key(context)
            except InferstackError as err:
                metrics.observe_request(ROUTE, err.status_code, 0.0)
                log_refused(ROUTE, err, 0.0)
                await context.abort(status_of(err), err.message)
        stream = _Stream(context)
        stream.reader = asyncio.ensure_future(self._read(stream))
        self._streams.add(stream)
        try:
            drained = await self._write(stream)
        except BaseException as err:
            # grpc cancels the stream when the client leaves or the drain's grace ends; a
            # write fails when the call is gone. Either way the rest goes unanswered.
            unanswered = self._forget(stream)
            if unanswered and self.draining and isinstance(err, asyncio.CancelledError):
                metrics.drain_refused.inc(unanswered)
                log.warning(
                    f"gRPC stream cancelled with {unanswered} requests unanswered: " + DRAIN_ENDED,
                    extra={"route": ROUTE},
                )
            elif unanswered:
                log.info(
                    f"gRPC stream ended with {unanswered} requests unanswered (the client "
                    "left, or grpc failed the call: a message over the size limit)",
                    extra={"route": ROUTE},
                )
            raise
        finally:
            self._streams.discard(stream)
            reader = stream.reader
            if not reader.done():
                reader.cancel()
            elif not reader.cancelled():
                reader.exception()  # retrieved: the call's own failure is what is reported
        if drained:
            await context.abort(grpc.StatusCode.UNAVAILABLE, STREAM_DRAINED)

    async def _write(self, stream: _Stream) -> bool:
        """Write each answer in the order read; True when the stream ends for the drain."""
        window, context = stream.window, stream.context
        while True:
            if self.draining and stream.reading and window.empty():
                # Nothing read is unanswered. A cancelled read leaves the call fit only
                # to be ended, which is all that is left to do. (A message whose read
                # completed just now, the reader not yet resumed, is dropped unrun: the
                # status tells the client to resend what was not answered.)
                stream.reader.cancel()
                return True
            item = await window.get()
            if item is None:  # the reader ended: the client closed, or the drain began
                return await stream.reader
            if isinstance(item, _Drain):
                continue
            stream.answering = item
            answer = await self._answer(item)
            stream.answering = None  # answered: counted and logged
            await context.write(answer)

    async def _read(self, stream: _Stream) -> bool:
        """Read and queue requests until the client closes (False) or the drain began (True)."""
        try:
            return await self._read_until_end(stream)
        except Exception:
            await stream.window.put(None)  # the writer answers what was read, then re-raises
            raise

    async def _read_until_end(self, stream: _Stream) -> bool:
        loop = asyncio.get_running_loop()
        inflight = self.service.metrics.inflight
        window = stream.window
        while True:
            if self.draining:
                await window.put(None)
                return True
            stream.reading = True
            body = await stream.context.read()
            stream.reading = False
            if body is grpc.aio.EOF:
                await window.put(None)
                return False
            if self.draining:  # read as the drain began: not run
                self.service.metrics.drain_refused.inc()
                continue
            start = loop.time()
            inflight.inc()
            read: _Read | None = None
            try:
                read = await self._start(body, start)
                await window.put(read)
            except BaseException:  # cancelled holding it (the stream is ending): release it
                inflight.dec()
                if read is not None and read.pending is not None:
                    read.pending.outputs.cancel()
                raise

    async def _start(self, body: bytes, start: float) -> _Read:
        """Check and queue one request; a failure becomes its answer."""
        inference = self.inference
        try:
            # Waiting for a loading model, or for the thread that parses large messages,
            # counts against the request's timeout, as everything does for ModelInfer.
            if self.service.batcher is None or len(body) >= inference.offload_bytes:
                async with asyncio.timeout(self.timeout):
                    return _Read(start, await inference.start_infer(body, ROUTE), None)
            return _Read(start, await inference.start_infer(body, ROUTE), None)
        except TimeoutError:
            return _Read(start, None, self.inference.timed_out(), _echoed_id(body))
        except InferstackError as err:
            return _Read(start, None, err, _echoed_id(body))
        except Exception as err:  # noqa: BLE001 - internal_error logs it, answers INTERNAL
            return _Read(start, None, internal_error(err))

    async def _answer(self, read: _Read) -> bytes:
        """One request's ``ModelStreamInferResponse``; records its metrics (and logs a failure)."""
        pending, error = read.pending, read.error
        if pending is not None:
            outputs = pending.outputs
            try:
                if not outputs.done():
                    # One timer handle instead of a timeout context per request; the
                    # batcher skips a request whose future is done (here, failed) as it
                    # skips a cancelled one.
                    loop = asyncio.get_running_loop()
                    timer = loop.call_at(read.start + self.timeout, self._expire, outputs)
                    try:
                        await outputs
                    finally:
                        timer.cancel()
                body = await self.inference.answer(pending, outputs.result(), stream=True)
            except InferstackError as err:
                error = err
            except Exception as err:  # noqa: BLE001 - internal_error logs it, answers INTERNAL
                error = internal_error(err)
        metrics = self.service.metrics
        metrics.inflight.dec()
        elapsed = asyncio.get_running_loop().time() - read.start
        if error is None:
            metrics.observe_request(ROUTE, 200, elapsed)
            return body
        metrics.observe_request(ROUTE, error.status_code, elapsed)
        log_refused(ROUTE, error, elapsed)
        s = self.service
        response = pb.ModelInferResponse(
            model_name=s.name,
            model_version=s.version,
            id=pending.request_id if pending is not None else read.request_id,
        )
        return pb.ModelStreamInferResponse(
            error_message=error.message, infer_response=response
        ).SerializeToString()

    def _expire(self, outputs: asyncio.Future[Any]) -> None:
        if not outputs.done():
            outputs.set_exception(self.inference.timed_out())

    def _forget(self, stream: _Stream) -> int:
        """Drop the requests a cancelled stream will not answer; how many there were."""
        dropped = [stream.answering] if stream.answering is not None else []
        while not stream.window.empty():
            item = stream.window.get_nowait()
            if isinstance(item, _Read):
                dropped.append(item)
        for item in dropped:
            if item.pending is not None:
                item.pending.outputs.cancel()
            self.service.metrics.inflight.dec()
        return len(dropped)


def _echoed_id(body: bytes) -> str:
    """A refused request's id, to echo beside its error: parsed again (errors only)."""
    try:
        given = pb.ModelInferRequest.FromString(body).id
    except DecodeError:
        return ""
    return accept_id(given) or ""
