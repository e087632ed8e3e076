"""V2 gRPC tensors to one checked batch, and the model's outputs back to a response.

A request carries its tensors either all as ``raw_input_contents`` (one bytes item per
input, in order: the form Triton's client sends) or all in each tensor's typed
``contents``; the answer uses the same form. Datatypes and raw bytes follow
``v2_tensors``; the batch is assembled as the V2 JSON route assembles it (one tensor
of shape ``[N, *row_shape]``, or one ``[N]`` tensor per feature). Every malformed
message raises ``InvalidInput`` naming the field.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from inferstack.runtime import grpc_predict_v2_pb2 as pb
from inferstack.runtime.errors import InvalidInput
from inferstack.runtime.v2_tensors import V2_TO_NP, datatype_of, from_raw, to_raw

# The typed contents field of each datatype (FP16 travels only as raw bytes).
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}
_FIELDS = sorted(set(CONTENTS_FIELD.values()))
_ITEMSIZE = {k: np.dtype(v).itemsize for k, v in V2_TO_NP.items() if v is not object}


def input_tensors(request: pb.ModelInferRequest) -> tuple[list[tuple[str, np.ndarray]], bool]:
    """The request's tensors by name, and whether they came as raw contents."""
    inputs = request.inputs
    if not inputs:
        raise InvalidInput("inputs: expected a non-empty list of tensors")
    raw = request.raw_input_contents
    n_raw = len(raw)
    if n_raw and n_raw != len(inputs):
        raise InvalidInput(
            f"raw_input_contents: {n_raw} items for {len(inputs)} inputs; "
            "give one per input, in order"
        )
    tensors = []
    # Each field read from a parsed message builds a new Python object: read each once.
    for i, tensor in enumerate(inputs):
        datatype = tensor.datatype
        shape = _shape(datatype, tensor.shape, i)
        if n_raw:
            if tensor.HasField("contents"):
                raise InvalidInput(
                    f"inputs[{i}].contents: the request has raw_input_contents; "
                    "give every tensor's data there, not in contents"
                )
            tensors.append((tensor.name, _from_raw(raw[i], datatype, shape, i)))
        else:
            tensors.append((tensor.name, _from_contents(tensor, datatype, shape, f"inputs[{i}]")))
    return tensors, n_raw > 0


def _shape(datatype: str, dims: Any, i: int) -> list[int]:
    if datatype not in V2_TO_NP:
        raise InvalidInput(
            f"inputs[{i}].datatype: expected one of {sorted(V2_TO_NP)}, got {datatype[:40]!r}"
        )
    shape = list(dims)
    if not shape or min(shape) < 0:
        raise InvalidInput(f"inputs[{i}].shape: expected a list of non-negative integers")
    return shape


def _from_raw(raw: bytes, datatype: str, shape: list[int], i: int) -> np.ndarray:
    where = f"raw_input_contents[{i}]"
    itemsize = _ITEMSIZE.get(datatype)  # None for BYTES: from_raw checks its framing
    if itemsize is not None:
        expected = math.prod(shape) * itemsize
        if len(raw) != expected:
            raise InvalidInput(
                f"{where}: {len(raw)} bytes, but inputs[{i}] of shape {shape} and datatype "
                f"{datatype} needs {expected} bytes"
            )
    return from_raw(raw, datatype, shape, where)


def _from_contents(
    tensor: pb.ModelInferRequest.InferInputTensor, datatype: str, shape: list[int], where: str
) -> np.ndarray:
    field = CONTENTS_FIELD.get(datatype)
    if field is None:
        raise InvalidInput(f"{where}: {datatype} data travels only in raw_input_contents")
    contents = tensor.contents
    stray = [f for f in _FIELDS if f != field and len(getattr(contents, f))]
    if stray:
        raise InvalidInput(
            f"{where}.contents.{stray[0]}: a {datatype} tensor holds its values in {field}"
        )
    values = getattr(contents, field)
    count = math.prod(shape)
    if len(values) != count:
        raise InvalidInput(
            f"{where}.contents.{field}: {len(values)} values do not fill shape {shape}"
        )
    if datatype == "BYTES":
        return np.array(_utf8(values, where), dtype=object).reshape(shape)
    dtype = np.dtype(V2_TO_NP[datatype])
    if dtype.kind in "iu" and dtype.itemsize < 4:  # int_contents / uint_contents are 32-bit
        info = np.iinfo(dtype)
        wide = np.array(values, dtype=np.int64)
        if count and (wide.min() < info.min or wide.max() > info.max):
            raise InvalidInput(f"{where}.contents.{field}: a value does not fit {datatype}")
        return wide.astype(dtype).reshape(shape)
    return np.array(values, dtype=dtype).reshape(shape)


def _utf8(values: Any, where: str) -> list[str]:
    out = []
    for k, value in enumerate(values):
        try:
            out.append(value.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise InvalidInput(
                f"{where}.contents.bytes_contents[{k}]: not UTF-8: {err.reason}"
            ) from err
    return out


def check_outputs(request: pb.ModelInferRequest, kind: str) -> None:
    """Refuse a requested output the model does not have (it has one, named ``kind``)."""
    for i, wanted in enumerate(request.outputs):
        if wanted.name != kind:
            raise InvalidInput(
                f"outputs[{i}].name: no output '{wanted.name[:100]}'; this model has '{kind}'"
            )


def infer_response(
    out: Any, name: str, version: str, kind: str, request_id: str, raw: bool
) -> pb.ModelInferResponse:
    """The model's outputs as one tensor named ``kind``, raw or typed as the request was."""
    arr = np.asarray(out)
    datatype = datatype_of(arr)
    response = pb.ModelInferResponse(model_name=name, model_version=version, id=request_id)
    tensor = response.outputs.add(name=kind, datatype=datatype, shape=list(arr.shape))
    if raw or datatype not in CONTENTS_FIELD:  # FP16 has no typed field
        response.raw_output_contents.append(to_raw(arr)[1])
    elif datatype == "BYTES":
        tensor.contents.bytes_contents.extend(str(v).encode() for v in arr.reshape(-1))
    else:
        getattr(tensor.contents, CONTENTS_FIELD[datatype]).extend(arr.reshape(-1).tolist())
    return response
