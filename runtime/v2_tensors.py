"""V2 tensor datatypes as numpy dtypes, and tensors to and from their raw bytes.

The raw form is the one the Open Inference Protocol uses wherever a tensor travels as
bytes (the HTTP binary tensor data extension, gRPC's ``raw_input_contents`` and
``raw_output_contents``): little-endian, row-major, no padding; ``BOOL`` one byte (0 or
1) per element; ``BYTES`` each element a 4-byte little-endian unsigned length then its
bytes. ``BYTES`` elements are served as ``str`` (UTF-8), as the JSON form gives them.
Malformed bytes raise ``InvalidInput`` naming the tensor (``where``) and the problem.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any

import numpy as np

from inferstack.runtime.errors import InvalidInput

V2_TO_NP: dict[str, type[Any]] = {
    "BOOL": np.bool_,
    "INT8": np.int8,
    "INT16": np.int16,
    "INT32": np.int32,
    "INT64": np.int64,
    "UINT8": np.uint8,
    "UINT16": np.uint16,
    "UINT32": np.uint32,
    "UINT64": np.uint64,
    "FP16": np.float16,
    "FP32": np.float32,
    "FP64": np.float64,
    "BYTES": object,
}
NP_TO_V2 = {np.dtype(v).str: k for k, v in V2_TO_NP.items() if v is not object}
# little-endian dtype of each fixed-size datatype
_WIRE = {k: np.dtype(v).newbyteorder("<") for k, v in V2_TO_NP.items() if v is not object}
_LENGTH = struct.Struct("<I")


def datatype_of(arr: np.ndarray) -> str:
    """The V2 datatype of an array; anything not numeric or bool is ``BYTES``."""
    return NP_TO_V2.get(arr.dtype.str, "BYTES")


def from_raw(
    raw: bytes | memoryview, datatype: str, shape: Sequence[int], where: str
) -> np.ndarray:
    """The tensor ``raw`` holds, as a writable native array of ``shape``.

    Raises ``InvalidInput`` when the size disagrees with shape and datatype, a ``BOOL``
    byte is not 0 or 1, or a ``BYTES`` element is cut short or not UTF-8.
    """
    count = math.prod(shape)
    if datatype == "BYTES":
        return np.array(bytes_elements(raw, count, where), dtype=object).reshape(shape)
    wire = _WIRE.get(datatype)
    if wire is None:
        raise InvalidInput(
            f"{where}.datatype: expected one of {sorted(V2_TO_NP)}, got {datatype!r}"
        )
    expected = count * wire.itemsize
    if len(raw) != expected:
        raise InvalidInput(
            f"{where}: binary_data_size is {len(raw)} bytes but shape {list(shape)} of "
            f"{datatype} needs {expected} bytes"
        )
    if datatype == "BOOL" and count and np.frombuffer(raw, dtype=np.uint8).max() > 1:
        raise InvalidInput(f"{where}: a BOOL element is neither 0 nor 1")
    arr = np.frombuffer(raw, dtype=wire).reshape(shape)
    return arr.astype(wire.newbyteorder("="))  # a copy: native order, writable, body freed


def bytes_elements(raw: bytes | memoryview, count: int, where: str) -> list[str]:
    """``count`` length-prefixed UTF-8 strings filling ``raw`` exactly."""
    view = memoryview(raw)
    out: list[str] = []
    offset, end = 0, len(view)
    for k in range(count):
        if offset + 4 > end:
            raise InvalidInput(
                f"{where}: BYTES element {k} of {count}: its 4-byte length runs past the "
                f"end of the tensor's {end} bytes"
            )
        (size,) = _LENGTH.unpack_from(view, offset)
        offset += 4
        if offset + size > end:
            raise InvalidInput(
                f"{where}: BYTES element {k} of {count} has length {size}, which runs past "
                f"the end of the tensor's {end} bytes"
            )
        try:
            out.append(str(view[offset : offset + size], "utf-8"))
        except UnicodeDecodeError as err:
            raise InvalidInput(f"{where}: BYTES element {k} is not UTF-8: {err.reason}") from err
        offset += size
    if offset != end:
        raise InvalidInput(
            f"{where}: {end - offset} bytes left after the {count} BYTES elements its shape holds"
        )
    return out


def to_raw(arr: np.ndarray) -> tuple[str, bytes]:
    """An array's V2 datatype and raw bytes (``BYTES``: each element's ``str``, UTF-8)."""
    datatype = datatype_of(arr)
    if datatype != "BYTES":
        return datatype, np.ascontiguousarray(arr, dtype=_WIRE[datatype]).tobytes()
    values = [v if isinstance(v, bytes) else str(v) for v in arr.reshape(-1)]
    return datatype, bytes_to_raw(values)


def bytes_to_raw(values: Sequence[bytes | str]) -> bytes:
    """``values`` in the length-prefixed ``BYTES`` encoding."""
    parts: list[bytes] = []
    for value in values:
        data = value.encode() if isinstance(value, str) else value
        parts += (_LENGTH.pack(len(data)), data)
    return b"".join(parts)
