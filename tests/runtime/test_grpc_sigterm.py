"""gRPC calls and streams against a slow model: SIGTERM with gRPC and HTTP requests in
flight (both stop accepting, none is lost, exit 0), streams on SIGTERM, a stream the
client cancels, and a stream's per-request timeout."""

from __future__ import annotations

import queue
import signal
import threading
import time
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest

from inferstack.runtime import bundle
from tests.runtime.server import RuntimeServer, free_port, metric_value

grpcclient = pytest.importorskip("tritonclient.grpc")

NAP = """
import time

class Nap:
    def predict(self, x):
        time.sleep(0.25)
        return x.sum(axis=1)
"""
EACH = 12  # requests per transport


def _nap_bundle(tmp_path: Path) -> Path:
    """A custom model that sleeps 0.25 s per call."""
    (tmp_path / "nap.py").write_text(NAP)
    return bundle(
        f"{tmp_path / 'nap.py'}:Nap",
        framework="custom",
        name="nap",
        version="1.0.0",
        out=tmp_path / "b",
        features=["a", "b"],
    )


def _nap_request() -> bytes:
    """A serialized one-row ``ModelInferRequest`` for the nap model."""
    request = grpcclient.service_pb2.ModelInferRequest(model_name="nap")
    request.inputs.add(name="input-0", datatype="FP64", shape=[1, 2])
    request.raw_input_contents.append(np.array([[1.0, 2.0]]).tobytes())
    return request.SerializeToString()


def test_sigterm_drains_grpc_and_http_in_flight(tmp_path: Path, log_dir: Path) -> None:
    path = _nap_bundle(tmp_path)
    port = free_port()
    env = {
        "INFERSTACK_MAX_BATCH_SIZE": "4",
        "INFERSTACK_MAX_BATCH_WAIT_MS": "0",
        "INFERSTACK_GRPC_PORT": str(port),
    }
    server = RuntimeServer(path, log_dir, env=env).start()
    address = f"127.0.0.1:{port}"
    results: dict[str, object] = {}

    def call_http(i: int) -> None:
        try:
            r = httpx.post(
                server.url + "/predict", json={"instances": [[float(i), 1.0]]}, timeout=60
            )
            results[f"http-{i}"] = (r.status_code, r.json())
        except httpx.HTTPError as err:
            results[f"http-{i}"] = err

    def call_grpc(i: int) -> None:
        client = grpcclient.InferenceServerClient(address)
        tensor = grpcclient.InferInput("input-0", [1, 2], "FP64")
        tensor.set_data_from_numpy(np.array([[float(i), 2.0]]))
        try:
            out = client.infer("nap", [tensor], client_timeout=60).as_numpy("raw")
            results[f"grpc-{i}"] = out.tolist()
        except grpcclient.InferenceServerException as err:
            results[f"grpc-{i}"] = err
        finally:
            client.close()

    threads = [threading.Thread(target=call_http, args=(i,)) for i in range(EACH)]
    threads += [threading.Thread(target=call_grpc, args=(i,)) for i in range(EACH)]
    try:
        for t in threads:
            t.start()
        # 24 requests, 4 per 0.25 s batch: about 1.5 s of work. SIGTERM lands once all
        # have been accepted (in flight or answered).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            metrics = server.get("/metrics").text
            in_flight = metric_value(metrics, "inferstack_inflight_requests") - 1  # this one
            accepted = in_flight + sum(
                metric_value(metrics, "inferstack_requests_total", route=route)
                for route in ("/predict", "grpc:ModelInfer")
            )
            if accepted >= 2 * EACH:
                break
            time.sleep(0.02)
        assert accepted >= 2 * EACH, f"only {accepted} of {2 * EACH} requests reached the server"
        assert in_flight > 0, "nothing was left in flight to drain"
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        with grpc.insecure_channel(address) as channel:
            live = channel.unary_unary("/inference.GRPCInferenceService/ServerLive")
            with pytest.raises(grpc.RpcError) as refused:
                live(b"", timeout=2)
        assert refused.value.code() in (
            grpc.StatusCode.UNAVAILABLE,
            grpc.StatusCode.DEADLINE_EXCEEDED,
        ), "gRPC still accepted new calls after SIGTERM"
        for t in threads:
            t.join(30)
        code = server.proc.wait(30)
    finally:
        server.stop()
    assert code == 0, server.logs()
    assert len(results) == 2 * EACH
    for i in range(EACH):
        assert results[f"http-{i}"] == (200, {"predictions": [i + 1.0]}), results[f"http-{i}"]
        assert results[f"grpc-{i}"] == [i + 2.0], results[f"grpc-{i}"]


def test_sigterm_ends_streams_after_answering_what_they_read(tmp_path: Path, log_dir: Path) -> None:
    """A busy stream answers the requests it read, then ends UNAVAILABLE; so does an idle
    one, at once; a request sent after SIGTERM is not run; the server exits 0."""
    path = _nap_bundle(tmp_path)
    port = free_port()
    env = {
        "INFERSTACK_MAX_BATCH_SIZE": "4",
        "INFERSTACK_MAX_BATCH_WAIT_MS": "0",
        "INFERSTACK_GRPC_PORT": str(port),
        "INFERSTACK_TIMEOUT_GRACEFUL_SHUTDOWN_S": "60",
    }
    server = RuntimeServer(path, log_dir, env=env).start()
    address = f"127.0.0.1:{port}"
    busy: queue.Queue[tuple[object, object]] = queue.Queue()
    idle: queue.Queue[tuple[object, object]] = queue.Queue()
    clients = [grpcclient.InferenceServerClient(address) for _ in range(2)]

    def inputs(i: int) -> list[object]:
        tensor = grpcclient.InferInput("input-0", [1, 2], "FP64")
        tensor.set_data_from_numpy(np.array([[float(i), 2.0]]))
        return [tensor]

    try:
        clients[0].start_stream(lambda result, error: busy.put((result, error)))
        clients[1].start_stream(lambda result, error: idle.put((result, error)))
        clients[1].async_stream_infer("nap", inputs(100), request_id="idle-0")
        assert idle.get(timeout=30)[0] is not None  # answered; the stream now waits
        for i in range(EACH):
            clients[0].async_stream_infer("nap", inputs(i), request_id=f"busy-{i}")
        # 12 requests, 4 per 0.25 s batch: SIGTERM lands once all are read.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            metrics = server.get("/metrics").text
            in_flight = metric_value(metrics, "inferstack_inflight_requests") - 1  # this one
            route = {"route": "grpc:ModelStreamInfer"}
            read = in_flight + metric_value(metrics, "inferstack_requests_total", **route) - 1
            if read >= EACH:  # (less the idle stream's answer)
                break
            time.sleep(0.01)
        assert read >= EACH, f"only {read} of {EACH} requests were read"
        assert in_flight > 0, "nothing was left in flight to drain"
        started = time.monotonic()
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        clients[0].async_stream_infer("nap", inputs(99), request_id="after-sigterm")
        code = server.proc.wait(30)
        took = time.monotonic() - started
        busy_got = [busy.get(timeout=10) for _ in range(EACH + 1)]
        idle_got = idle.get(timeout=10)
    finally:
        for client in clients:
            client.stop_stream()
            client.close()
        server.stop()
    assert code == 0, server.logs()
    assert took < 20, "the streams held the shutdown until the drain's grace ended"
    for i, (result, error) in enumerate(busy_got[:EACH]):
        assert error is None, error
        assert result.get_response().id == f"busy-{i}"  # type: ignore[attr-defined]
        assert result.as_numpy("raw").tolist() == [i + 2.0]  # type: ignore[attr-defined]
    for result, error in (busy_got[EACH], idle_got):
        assert result is None
        assert error.status() == "StatusCode.UNAVAILABLE"  # type: ignore[attr-defined]
        assert "resend the requests it did not answer" in error.message()  # type: ignore[attr-defined]
    assert busy.empty(), "the request sent after SIGTERM was answered"


def test_a_stream_the_client_cancels_leaves_nothing_in_flight(
    tmp_path: Path, log_dir: Path
) -> None:
    path = _nap_bundle(tmp_path)
    port = free_port()
    env = {"INFERSTACK_MAX_BATCH_SIZE": "1", "INFERSTACK_GRPC_PORT": str(port)}
    with (
        RuntimeServer(path, log_dir, env=env) as server,
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        stream = channel.stream_stream("/inference.GRPCInferenceService/ModelStreamInfer")(
            iter([_nap_request()] * 40), timeout=60
        )
        # One answered; behind it the writer waits on one, 16 wait in the stream's window
        # and the reader holds one more it cannot queue: all must be let go.
        first = next(stream)
        assert first[:1] != b"\x0a", first
        stream.cancel()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            metrics = server.get("/metrics").text
            if metric_value(metrics, "inferstack_inflight_requests") == 1:  # this one
                break
            time.sleep(0.05)
        assert metric_value(metrics, "inferstack_inflight_requests") == 1
        assert metric_value(metrics, "inferstack_drain_refused_total") == 0
        calls = metric_value(metrics, "inferstack_batch_size_count")
        time.sleep(0.8)  # the model would have run three more requests by now
        later = metric_value(server.get("/metrics").text, "inferstack_batch_size_count")
        assert later <= calls + 1, "the batcher still runs requests of the cancelled stream"
        live = channel.unary_unary("/inference.GRPCInferenceService/ServerLive")
        assert live(b"", timeout=10) == b"\x08\x01"


def test_a_stream_request_past_its_timeout_is_answered_with_the_timeout(
    tmp_path: Path, log_dir: Path
) -> None:
    path = _nap_bundle(tmp_path)
    port = free_port()
    env = {
        "INFERSTACK_MAX_BATCH_SIZE": "1",
        "INFERSTACK_GRPC_PORT": str(port),
        "INFERSTACK_REQUEST_TIMEOUT_S": "0.4",
    }
    body = _nap_request()
    with (
        RuntimeServer(path, log_dir, env=env) as server,
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        stream = channel.stream_stream("/inference.GRPCInferenceService/ModelStreamInfer")
        # One call at a time, 0.25 s each: the first is answered, the second and third
        # wait past 0.4 s and time out; the batcher skips them.
        answers = [
            grpcclient.service_pb2.ModelStreamInferResponse.FromString(a)
            for a in stream(iter([body] * 3), timeout=30)
        ]
        assert [a.error_message for a in answers] == [""] + [
            "request not answered within 0.4 s"
        ] * 2
        assert answers[0].infer_response.raw_output_contents
        text = server.get("/metrics").text
        route = {"route": "grpc:ModelStreamInfer"}
        assert metric_value(text, "inferstack_requests_total", code="504", **route) == 2
        [after] = list(stream(iter([body]), timeout=30))  # the server goes on
        assert grpcclient.service_pb2.ModelStreamInferResponse.FromString(
            after
        ).infer_response.outputs
