"""Triton's own gRPC client against real servers: V2 over gRPC beside HTTP.

FP64, FP32, INT64, BOOL and BYTES models (see ``grpc_models``) are served on 127.0.0.1
with ``INFERSTACK_GRPC_PORT`` and an API key; ``tritonclient.grpc`` sends raw contents,
and hand-built messages send typed contents; every answer equals the model in process.
Health, metadata, the key in metadata, error codes and messages, and the route label
of the metrics are checked on the same servers; so is ``ModelStreamInfer`` through the
client's ``start_stream``/``async_stream_infer`` (order, ids, errors as answers, the key
per stream), and docs/runtime.md's streaming example runs as written.
"""

from __future__ import annotations

import contextlib
import queue
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import grpc
import numpy as np
import pytest

from tests.runtime.conftest import Built
from tests.runtime.grpc_models import KINDS, Tensors, build_case, datatype
from tests.runtime.server import RuntimeServer, free_port, metric_value

grpcclient = pytest.importorskip("tritonclient.grpc")
InferenceServerException = pytest.importorskip("tritonclient.utils").InferenceServerException
service_pb2 = pytest.importorskip("tritonclient.grpc.service_pb2")
service_pb2_grpc = pytest.importorskip("tritonclient.grpc.service_pb2_grpc")

KEY = "grpc-test-key-0123456789"
AUTH = {"x-api-key": KEY}


class Case(NamedTuple):
    """A served model, what to send it, and what the model in process answers."""

    server: RuntimeServer
    name: str
    output: str
    tensors: Tensors
    expected: np.ndarray
    address: str


CONTENTS = {
    "FP64": "fp64_contents",
    "FP32": "fp32_contents",
    "INT64": "int64_contents",
    "BOOL": "bool_contents",
    "BYTES": "bytes_contents",
}


@pytest.fixture(scope="module", params=KINDS)
def case(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Case]:
    kind = request.param
    out = tmp_path_factory.mktemp("grpc") / kind
    name, tensors, expected = build_case(kind, out)
    port = free_port()
    env = {"INFERSTACK_GRPC_PORT": str(port), "INFERSTACK_API_KEY": KEY}
    with RuntimeServer(out, tmp_path_factory.mktemp("logs"), env=env) as server:
        meta = server.get(f"/v2/models/{name}", headers=AUTH).json()
        yield Case(server, name, meta["outputs"][0]["name"], tensors, expected, f"127.0.0.1:{port}")


def _same(got: np.ndarray, expected: np.ndarray) -> None:
    if expected.dtype.kind in "OU":
        assert [v.decode() if isinstance(v, bytes) else v for v in got.tolist()] == list(expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def _client(address: str) -> Any:
    return grpcclient.InferenceServerClient(address)


def test_triton_client_raw_contents_match_model(case: Case) -> None:
    name, output, tensors, expected, address = (
        case.name,
        case.output,
        case.tensors,
        case.expected,
        case.address,
    )
    inputs = []
    for tensor_name, arr in tensors:
        tensor = grpcclient.InferInput(tensor_name, list(arr.shape), datatype(arr))
        tensor.set_data_from_numpy(arr)  # raw_input_contents, as the client always sends
        inputs.append(tensor)
    client = _client(address)
    result = client.infer(name, inputs, request_id="r-9", headers=AUTH)
    _same(result.as_numpy(output), expected)
    response = result.get_response()
    assert response.id == "r-9"
    assert response.model_name == name
    assert len(response.raw_output_contents) == 1
    client.close()


def _typed_request(name: str, tensors: Tensors) -> Any:
    request = service_pb2.ModelInferRequest(model_name=name, id="typed")
    for tensor_name, arr in tensors:
        dt = datatype(arr)
        tensor = request.inputs.add(name=tensor_name, datatype=dt, shape=list(arr.shape))
        values = (
            [v.encode() for v in arr.reshape(-1)] if dt == "BYTES" else arr.reshape(-1).tolist()
        )
        getattr(tensor.contents, CONTENTS[dt]).extend(values)
    return request


def _typed_output(response: Any) -> np.ndarray:
    out = response.outputs[0]
    assert not response.raw_output_contents
    values = list(getattr(out.contents, CONTENTS[out.datatype]))
    return np.array(values).reshape(list(out.shape))


def test_typed_contents_match_model(case: Case) -> None:
    name, output, tensors, expected, address = (
        case.name,
        case.output,
        case.tensors,
        case.expected,
        case.address,
    )
    with grpc.insecure_channel(address) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        response = stub.ModelInfer(
            _typed_request(name, tensors), metadata=(("authorization", f"Bearer {KEY}"),)
        )
    assert response.id == "typed"
    assert response.outputs[0].name == output
    _same(_typed_output(response), expected)


def test_health_and_metadata(case: Case) -> None:
    server, name, output, address = (case.server, case.name, case.output, case.address)
    client = _client(address)
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(name)
    assert client.is_model_ready(name, "1.0.0")
    assert client.get_server_metadata().name == "inferstack"
    meta = client.get_model_metadata(name, headers=AUTH)
    http = server.get(f"/v2/models/{name}", headers=AUTH).json()
    assert meta.name == name
    assert list(meta.versions) == ["1.0.0"]
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [
        (t["name"], t["datatype"], t["shape"]) for t in http["inputs"]
    ]
    assert meta.outputs[0].name == output
    with pytest.raises(grpcclient.InferenceServerException) as err:
        client.is_model_ready("other")
    assert err.value.status() == "StatusCode.NOT_FOUND"
    assert "model 'other' not found" in err.value.message()
    client.close()


def _call(address: str, request: Any, metadata: tuple[tuple[str, str], ...] = ()) -> grpc.RpcError:
    with grpc.insecure_channel(address) as channel:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
        with pytest.raises(grpc.RpcError) as err:
            stub.ModelInfer(request, metadata=metadata, timeout=30)
    return err.value


def test_errors_map_to_codes_with_the_http_messages(case: Case) -> None:
    server, name, tensors, address = case.server, case.name, case.tensors, case.address
    if len(tensors) != 1:
        pytest.skip("the numeric models cover the error paths")
    good = _typed_request(name, tensors)
    err = _call(address, good)
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "missing API key" in (err.details() or "")
    err = _call(address, good, (("x-api-key", "wrong-key-wrong-key"),))
    assert err.code() == grpc.StatusCode.UNAUTHENTICATED
    assert err.details() == "invalid API key"
    bad = _typed_request(name, tensors)
    bad.inputs[0].shape[:] = [9, 5]
    err = _call(address, bad, (("x-api-key", KEY),))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "do not fill shape [9, 5]" in (err.details() or "")
    bad.inputs[0].shape[:] = [3, 12]
    values = getattr(bad.inputs[0].contents, CONTENTS[bad.inputs[0].datatype])
    del values[36:]
    err = _call(address, bad, (("x-api-key", KEY),))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "expected rows of shape [4], got [12]" in (err.details() or "")
    shape_message = err.details()
    other = _typed_request("nope", tensors)
    err = _call(address, other, (("x-api-key", KEY),))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    assert err.details() == "model 'nope' not found"
    # the same message as HTTP for the same mistake
    tensor = {"name": "x", "shape": [3, 12], "datatype": datatype(tensors[0][1])}
    tensor["data"] = tensors[0][1].reshape(-1)[:36].tolist()
    http = server.post(f"/v2/models/{name}/infer", headers=AUTH, json={"inputs": [tensor]})
    assert http.status_code == 400
    assert http.json()["error"]["message"] == shape_message


def test_metrics_label_grpc_routes(case: Case) -> None:
    server, address = (case.server, case.address)
    client = _client(address)
    client.is_server_live()
    client.close()
    text = server.get("/metrics").text
    assert metric_value(text, "inferstack_requests_total", route="grpc:ServerLive", code="200") >= 1
    assert metric_value(text, "inferstack_requests_total", route="grpc:ModelInfer", code="200") >= 1


# ---- ModelStreamInfer: Triton's streaming client on the same servers -----------------


class StreamAnswers:
    """What Triton's ``start_stream`` callback receives, in order."""

    def __init__(self) -> None:
        self.got: queue.Queue[tuple[Any, Any]] = queue.Queue()

    def __call__(self, result: Any, error: Any) -> None:
        self.got.put((result, error))

    def take(self, n: int) -> list[tuple[Any, Any]]:
        return [self.got.get(timeout=30) for _ in range(n)]


def _inputs(tensors: Tensors) -> list[Any]:
    inputs = []
    for tensor_name, arr in tensors:
        tensor = grpcclient.InferInput(tensor_name, list(arr.shape), datatype(arr))
        tensor.set_data_from_numpy(arr)
        inputs.append(tensor)
    return inputs


def test_triton_stream_answers_in_order_and_match_model(case: Case) -> None:
    name, output, tensors, expected = case.name, case.output, case.tensors, case.expected
    answers = StreamAnswers()
    client = _client(case.address)
    client.start_stream(answers, headers=AUTH)
    # The first rows only, then all of them: the answers must keep the order sent.
    short = [(tensor_name, arr[:2]) for tensor_name, arr in tensors]
    for i in range(20):
        sent = short if i % 2 else tensors
        client.async_stream_infer(name, _inputs(sent), request_id=f"s-{i}")
    got = answers.take(20)
    client.stop_stream()
    client.close()
    for i, (result, error) in enumerate(got):
        assert error is None, error
        assert result.get_response().id == f"s-{i}"
        assert result.get_response().model_name == name
        _same(result.as_numpy(output), expected[:2] if i % 2 else expected)


def test_stream_errors_are_answers_and_the_stream_goes_on(case: Case) -> None:
    server, name, output, tensors, expected = (
        case.server,
        case.name,
        case.output,
        case.tensors,
        case.expected,
    )
    if len(tensors) != 1:
        pytest.skip("the numeric models cover the error paths")
    before = server.get("/metrics").text
    answers = StreamAnswers()
    client = _client(case.address)
    client.start_stream(answers, headers=AUTH)
    bad_shape = [(tensors[0][0], tensors[0][1][:, :3])]
    client.async_stream_infer(name, _inputs(tensors), request_id="ok-1")
    client.async_stream_infer(name, _inputs(bad_shape), request_id="bad-shape")
    client.async_stream_infer("nope", _inputs(tensors), request_id="no-model")
    client.async_stream_infer(name, _inputs(tensors), request_id="ok-2")
    got = answers.take(4)
    client.stop_stream()
    client.close()
    assert [r.get_response().id for r, _ in (got[0], got[3])] == ["ok-1", "ok-2"]
    for result, _ in (got[0], got[3]):
        _same(result.as_numpy(output), expected)
    # The same messages as ModelInfer's for the same mistakes.
    assert got[1][0] is None
    assert "expected rows of shape [4], got [3]" in got[1][1].message()
    assert got[2][0] is None
    assert got[2][1].message() == "model 'nope' not found"
    after = server.get("/metrics").text

    def grew(code: str) -> float:
        labels = {"route": "grpc:ModelStreamInfer", "code": code}
        return metric_value(after, "inferstack_requests_total", **labels) - metric_value(
            before, "inferstack_requests_total", **labels
        )

    assert (grew("200"), grew("400"), grew("404")) == (2, 1, 1)


def test_stream_without_key_ends_unauthenticated(case: Case) -> None:
    name, tensors = case.name, case.tensors
    for headers in ({}, {"x-api-key": "wrong-key-wrong-key"}):
        answers = StreamAnswers()
        client = _client(case.address)
        client.start_stream(answers, headers=headers)
        # The server ends the stream as it opens: sending may already find it ended.
        with contextlib.suppress(InferenceServerException):
            client.async_stream_infer(name, _inputs(tensors), request_id="no-key")
        [(result, error)] = answers.take(1)
        client.stop_stream()
        client.close()
        assert result is None
        assert error.status() == "StatusCode.UNAUTHENTICATED"
        assert "API key" in error.message()


def test_the_documented_stream_example_runs(
    sklearn_bundle: Built, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """docs/runtime.md's ModelStreamInfer example, as written, against the quickstart model."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "runtime.md").read_text()
    section = doc.split("#### Streaming: `ModelStreamInfer`", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    port = free_port()
    env = {"INFERSTACK_GRPC_PORT": str(port), "INFERSTACK_API_KEY": KEY}
    with RuntimeServer(sklearn_bundle[0], tmp_path_factory.mktemp("logs"), env=env):
        code = code.replace("127.0.0.1:8081", f"127.0.0.1:{port}").replace("<key>", KEY)
        run = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.splitlines() == [f"batch-{i} (256, 2)" for i in range(100)]
