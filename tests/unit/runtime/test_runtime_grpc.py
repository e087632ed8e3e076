"""gRPC settings checks, error codes and tensor conversion, without a server."""

from __future__ import annotations

import grpc
import numpy as np
import pytest

from inferstack.runtime import grpc_predict_v2_pb2 as pb
from inferstack.runtime import grpc_server
from inferstack.runtime.contract import RUNTIME_ENV, Env
from inferstack.runtime.errors import (
    ConfigError,
    InvalidInput,
    ModelNotReady,
    PayloadTooLarge,
    PredictionError,
    Unauthorized,
)
from inferstack.runtime.grpc_service import status_of
from inferstack.runtime.grpc_tensors import infer_response, input_tensors
from inferstack.runtime.settings import RuntimeSettings, env_names


def test_grpc_port_is_a_contract_setting() -> None:
    assert Env.GRPC_PORT in RUNTIME_ENV
    assert Env.GRPC_PORT in env_names()
    assert RuntimeSettings().grpc_port is None  # off unless set


def test_check_grpc_refuses_what_it_cannot_serve(monkeypatch: pytest.MonkeyPatch) -> None:
    grpc_server.check_grpc(RuntimeSettings(grpc_port=9000))
    with pytest.raises(ConfigError, match="INFERSTACK_WORKERS=1"):
        grpc_server.check_grpc(RuntimeSettings(grpc_port=9000, workers=2))
    with pytest.raises(ConfigError, match="port of its own"):
        grpc_server.check_grpc(RuntimeSettings(grpc_port=9000, port=9000))
    monkeypatch.setattr(grpc_server, "_installed", lambda module: module != "grpc")
    with pytest.raises(ConfigError, match=r"'grpcio'.*pip install 'inferstack\[grpc\]'"):
        grpc_server.check_grpc(RuntimeSettings(grpc_port=9000))


def test_status_codes() -> None:
    assert status_of(InvalidInput("x")) == grpc.StatusCode.INVALID_ARGUMENT
    assert status_of(Unauthorized("x")) == grpc.StatusCode.UNAUTHENTICATED
    assert status_of(ModelNotReady("x")) == grpc.StatusCode.UNAVAILABLE
    assert status_of(PayloadTooLarge("x")) == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert status_of(PredictionError("x")) == grpc.StatusCode.INTERNAL


def _request(datatype: str, shape: list[int]) -> pb.ModelInferRequest:
    request = pb.ModelInferRequest(model_name="m")
    request.inputs.add(name="input-0", datatype=datatype, shape=shape)
    return request


def test_typed_contents_are_checked() -> None:
    request = _request("INT8", [2])
    request.inputs[0].contents.int_contents.extend([1, 300])
    with pytest.raises(InvalidInput, match="does not fit INT8"):
        input_tensors(request)
    request = _request("FP32", [2])
    request.inputs[0].contents.fp64_contents.extend([1.0, 2.0])
    with pytest.raises(InvalidInput, match="holds its values in fp32_contents"):
        input_tensors(request)
    request = _request("FP16", [1])
    with pytest.raises(InvalidInput, match="only in raw_input_contents"):
        input_tensors(request)
    request = _request("BYTES", [2])
    request.inputs[0].contents.bytes_contents.extend([b"ok", b"\xff"])
    with pytest.raises(InvalidInput, match=r"bytes_contents\[1\]: not UTF-8"):
        input_tensors(request)


def test_raw_contents_are_checked() -> None:
    request = _request("FP64", [2, 3])
    request.raw_input_contents.append(bytes(47))
    with pytest.raises(
        InvalidInput, match=r"47 bytes, but inputs\[0\] of shape \[2, 3\] .*48 bytes"
    ):
        input_tensors(request)
    request = _request("FP64", [2])
    request.raw_input_contents.extend([bytes(16), bytes(16)])
    with pytest.raises(InvalidInput, match="2 items for 1 inputs"):
        input_tensors(request)
    request = _request("INT64", [2])
    request.raw_input_contents.append(np.array([3, -4], dtype="<i8").tobytes())
    ((name, arr),) = input_tensors(request)[0]
    assert name == "input-0"
    assert arr.tolist() == [3, -4]


def test_response_follows_the_request_form() -> None:
    out = np.array([[0.25, 0.75]])
    raw = infer_response(out, "m", "1.0.0", "probabilities", "r", raw=True)
    assert np.frombuffer(raw.raw_output_contents[0], "<f8").tolist() == [0.25, 0.75]
    typed = infer_response(out, "m", "1.0.0", "probabilities", "r", raw=False)
    assert list(typed.outputs[0].contents.fp64_contents) == [0.25, 0.75]
    assert list(typed.outputs[0].shape) == [1, 2]
    labels = infer_response(np.array(["yes", "no"], dtype=object), "m", "1", "label", "", False)
    assert labels.outputs[0].datatype == "BYTES"
    assert list(labels.outputs[0].contents.bytes_contents) == [b"yes", b"no"]
