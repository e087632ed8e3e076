"""Fuzzing the gRPC side of a real server: malformed messages never answer INTERNAL.

Hypothesis builds ModelInfer messages with any datatype name, shape and size, raw
contents cut short or too long, typed contents in the wrong field, and bytes that are
no protobuf at all; every answer is OK or a client error (INVALID_ARGUMENT,
NOT_FOUND, RESOURCE_EXHAUSTED), never INTERNAL or UNKNOWN, and the server stays up.
The same messages sent in runs on one ModelStreamInfer stream get, each, the answer
ModelInfer gives them (its error message in ``error_message``), and the stream ends OK.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.runtime.conftest import Built
from tests.runtime.server import RuntimeServer, free_port

service_pb2 = pytest.importorskip("tritonclient.grpc.service_pb2")

INFER = "/inference.GRPCInferenceService/ModelInfer"
STREAM = "/inference.GRPCInferenceService/ModelStreamInfer"
DATATYPES = ["BOOL", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"]
DATATYPES += ["FP16", "FP32", "FP64", "BYTES", "BF16", "", "fp64", "STRING"]
FIELDS = ["bool_contents", "int_contents", "int64_contents", "uint_contents"]
FIELDS += ["uint64_contents", "fp32_contents", "fp64_contents", "bytes_contents"]
CLIENT_ERRORS = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}


@pytest.fixture(scope="module")
def grpc_server(
    sklearn_bundle: Built, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RuntimeServer, grpc.Channel]]:
    port = free_port()
    env = {"INFERSTACK_GRPC_PORT": str(port), "INFERSTACK_MAX_REQUEST_BYTES": "1000000"}
    with (
        RuntimeServer(sklearn_bundle[0], tmp_path_factory.mktemp("logs"), env=env) as server,
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        yield server, channel


def _values(field: str) -> st.SearchStrategy[list[Any]]:
    if field == "bool_contents":
        return st.lists(st.booleans(), max_size=50)
    if field == "bytes_contents":
        return st.lists(st.binary(max_size=8), max_size=50)
    if field in ("fp32_contents", "fp64_contents"):
        width = 32 if field == "fp32_contents" else 64
        return st.lists(st.floats(width=width), max_size=50)
    bits = 64 if "64" in field else 32
    low = 0 if field.startswith("uint") else -(2 ** (bits - 1))
    high = 2**bits - 1 if field.startswith("uint") else 2 ** (bits - 1) - 1
    return st.lists(st.integers(low, high), max_size=50)


@st.composite
def tensors(draw: st.DrawFn) -> tuple[Any, bytes | None]:
    shape = draw(st.lists(st.integers(-2, 25), max_size=3))
    tensor = service_pb2.ModelInferRequest.InferInputTensor(
        name=draw(st.sampled_from(["input-0", "f0", "f19", "x", ""])),
        datatype=draw(st.sampled_from(DATATYPES)),
        shape=shape,
    )
    raw: bytes | None = None
    if draw(st.booleans()):
        size = draw(st.integers(0, 25 * 20 * 8 + 9))
        raw = draw(st.binary(min_size=min(size, 64), max_size=min(size, 64)))
        raw = raw * (size // max(len(raw), 1)) if raw else b""
    else:
        for field in draw(st.lists(st.sampled_from(FIELDS), max_size=2, unique=True)):
            getattr(tensor.contents, field).extend(draw(_values(field)))
    return tensor, raw


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    if draw(st.integers(0, 9)) == 0:  # not protobuf, or a truncated message
        return draw(st.binary(max_size=200))
    request = service_pb2.ModelInferRequest(
        model_name=draw(st.sampled_from(["logreg-20f", "logreg-20f", "other", ""])),
        model_version=draw(st.sampled_from(["", "", "1.0.0", "9"])),
        id=draw(st.text(max_size=5)),
    )
    raws = []
    for tensor, raw in draw(st.lists(tensors(), min_size=0, max_size=3)):
        request.inputs.append(tensor)
        if raw is not None:
            raws.append(raw)
    if draw(st.booleans()):
        request.raw_input_contents.extend(raws)
    for name in draw(st.lists(st.sampled_from(["probabilities", "label", "y"]), max_size=2)):
        request.outputs.add(name=name)
    body = request.SerializeToString()
    if draw(st.integers(0, 5)) == 0 and body:
        body = body[: draw(st.integers(0, len(body) - 1))]  # truncated on the wire
    return body


def _valid(raw: bool) -> bytes:
    request = service_pb2.ModelInferRequest(model_name="logreg-20f")
    tensor = request.inputs.add(name="input-0", datatype="FP64", shape=[2, 20])
    if raw:
        request.raw_input_contents.append(bytes(2 * 20 * 8))
    else:
        tensor.contents.fp64_contents.extend([0.5] * 40)
    return request.SerializeToString()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=requests())
@example(body=_valid(raw=True))
@example(body=_valid(raw=False))
@example(body=_valid(raw=True)[:-7])  # raw contents cut short on the wire
def test_fuzzed_messages_are_client_errors(
    grpc_server: tuple[RuntimeServer, grpc.Channel], body: bytes
) -> None:
    code, details = _model_infer(grpc_server[1], body)
    assert code in CLIENT_ERRORS, (code, details)


def _model_infer(channel: grpc.Channel, body: bytes) -> tuple[grpc.StatusCode, str]:
    """``ModelInfer``'s status for ``body``, and its message (empty when OK)."""
    try:
        channel.unary_unary(INFER)(body, timeout=30)
    except grpc.RpcError as err:
        return err.code(), err.details() or ""
    return grpc.StatusCode.OK, ""


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bodies=st.lists(requests(), min_size=1, max_size=6))
@example(bodies=[_valid(raw=True), b"\xff\xff", _valid(raw=True)[:-7], _valid(raw=False)])
def test_fuzzed_stream_messages_are_answered_as_model_infer_answers_them(
    grpc_server: tuple[RuntimeServer, grpc.Channel], bodies: list[bytes]
) -> None:
    """One answer per message, in order, on a stream that ends OK: what ModelInfer
    answers the same message, its error message in ``error_message``."""
    _, channel = grpc_server
    stream = channel.stream_stream(STREAM)
    answers = [
        service_pb2.ModelStreamInferResponse.FromString(a) for a in stream(iter(bodies), timeout=30)
    ]
    assert len(answers) == len(bodies)
    for body, answer in zip(bodies, answers, strict=True):
        code, details = _model_infer(channel, body)
        assert code in CLIENT_ERRORS, (code, details)
        assert answer.error_message == details
        assert bool(answer.infer_response.outputs) == (code == grpc.StatusCode.OK)


def test_stream_answers_echo_each_request_id_errors_too(
    grpc_server: tuple[RuntimeServer, grpc.Channel],
) -> None:
    def with_id(body: bytes, request_id: str) -> bytes:
        request = service_pb2.ModelInferRequest.FromString(body)
        request.id = request_id
        return request.SerializeToString()

    good = _valid(raw=True)
    bad = service_pb2.ModelInferRequest.FromString(good)
    bad.inputs[0].shape[:] = [3, 20]  # the raw bytes hold two rows
    bodies = [
        with_id(good, "ok-1"),
        with_id(bad.SerializeToString(), "bad-2"),
        with_id(good, "bad id with spaces"),  # not echoed (nor on HTTP): a fresh one
        b"\xff\xff",  # no protobuf, no id
    ]
    stream = grpc_server[1].stream_stream(STREAM)
    answers = [
        service_pb2.ModelStreamInferResponse.FromString(a) for a in stream(iter(bodies), timeout=30)
    ]
    assert [bool(a.error_message) for a in answers] == [False, True, False, True]
    assert "needs 480 bytes" in answers[1].error_message
    assert [a.infer_response.id for a in answers[:2]] == ["ok-1", "bad-2"]
    assert answers[2].infer_response.id not in ("", "bad id with spaces")
    assert answers[3].infer_response.id == ""


def test_server_is_still_up_after_fuzzing(grpc_server: tuple[RuntimeServer, grpc.Channel]) -> None:
    server, channel = grpc_server
    live = channel.unary_unary(
        "/inference.GRPCInferenceService/ServerLive",
        request_serializer=service_pb2.ServerLiveRequest.SerializeToString,
        response_deserializer=service_pb2.ServerLiveResponse.FromString,
    )
    assert live(service_pb2.ServerLiveRequest(), timeout=10).live
    assert server.get("/v2/health/ready").status_code == 200
    assert server.proc is not None
    assert server.proc.poll() is None
