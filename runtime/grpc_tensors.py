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
# numpy dtype kinds a feature tensor may have, by the feature's kind (as the JSON route)


def input_tensors(request: pb.ModelInferRequest) -> tuple[list[tuple[str, np.ndarray]], bool]:
    """The request's tensors by name, and whether they came as raw contents."""
    inputs = request.inputs
    if not inputs:
        raise InvalidInput("inputs: expected a non-empty list of tensors")
    raw = request.raw_input_contents
    if raw and len(raw) != len(inputs):
        raise InvalidInput(
            f"raw_input_contents: {len(raw)} items for {len(inputs)} inputs; "
            "give one per input, in order"
        )
    tensors = []
    for i, tensor in enumerate(inputs):
        where = f"inputs[{i}]"
        shape = _shape(tensor, where)
        if raw:
            if tensor.HasField("contents"):
                raise InvalidInput(
                    f"{where}.contents: the request has raw_input_contents; "
                    "give every tensor's data there, not in contents"
                )
            tensors.append((tensor.name, _from_raw(raw[i], tensor.datatype, shape, i)))
        else:
            tensors.append((tensor.name, _from_contents(tensor, shape, where)))
    return tensors, bool(raw)


def _shape(tensor: pb.ModelInferRequest.InferInputTensor, where: str) -> list[int]:
    if tensor.datatype not in V2_TO_NP:
        raise InvalidInput(
            f"{where}.datatype: expected one of {sorted(V2_TO_NP)}, got {tensor.datatype[:40]!r}"
        )
    shape = list(tensor.shape)
    if not shape or any(d < 0 for d in shape):
        raise InvalidInput(f"{where}.shape: expected a list of non-negative integers")
    return shape


def _from_raw(raw: bytes, datatype: str, shape: list[int], i: int) -> np.ndarray:
    where = f"raw_input_contents[{i}]"
    if datatype != "BYTES":
        expected = math.prod(shape) * np.dtype(V2_TO_NP[datatype]).itemsize
        if len(raw) != expected:
            raise InvalidInput(
                f"{where}: {len(raw)} bytes, but inputs[{i}] of shape {shape} and datatype "
                f"{datatype} needs {expected} bytes"
            )
    return from_raw(raw, datatype, shape, where)


def _from_contents(
    tensor: pb.ModelInferRequest.InferInputTensor, shape: list[int], where: str
) -> np.ndarray:
    datatype = tensor.datatype
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
