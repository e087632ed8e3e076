"""The V2 binary tensor data extension's HTTP framing: split a request, join a response.

A request with ``Inference-Header-Content-Length: N`` holds its JSON in the body's
first N bytes; after it come the raw bytes (see ``v2_tensors``) of every input whose
``parameters.binary_data_size`` is set, in input order, and nothing else. Inputs
without it carry JSON ``data`` as usual, so one request may mix both. The output is
sent as binary data when the request's ``parameters.binary_data_output`` or the
requested output's ``parameters.binary_data`` is true; the response then has the same
header, the output's ``binary_data_size`` and ``application/octet-stream`` as its type.
"""

from __future__ import annotations

from typing import Any

from inferstack.runtime.errors import InvalidInput

HEADER = b"inference-header-content-length"
OCTET_STREAM = b"application/octet-stream"


def _shown(value: Any) -> str:
    return repr(value)[:40]


def split(body: bytes, header: bytes) -> tuple[memoryview, memoryview]:
    """The JSON part of ``body`` and the binary data after it."""
    text = header.strip()
    if not text.isdigit():
        raise InvalidInput(
            "Inference-Header-Content-Length header: expected a non-negative integer, got "
            f"{_shown(text.decode('latin-1'))}"
        )
    size = int(text)
    if size > len(body):
        raise InvalidInput(
            f"Inference-Header-Content-Length is {size} bytes but the body has only "
            f"{len(body)} bytes"
        )
    view = memoryview(body)
    return view[:size], view[size:]


def binary_size(tensor: Any, where: str) -> int | None:
    """A request input's ``binary_data_size``, or None when it carries JSON data."""
    if not isinstance(tensor, dict):
        return None
    params = tensor.get("parameters")
    if params is None:
        return None
    if not isinstance(params, dict):
        raise InvalidInput(f"{where}.parameters: expected an object")
    size = params.get("binary_data_size")
    if size is None:
        return None
    if type(size) is not int or size < 0:
        raise InvalidInput(
            f"{where}.parameters.binary_data_size: expected a non-negative integer, "
            f"got {_shown(size)}"
        )
    return size


def input_buffers(inputs: list[Any], binary: memoryview) -> list[memoryview | None]:
    """Each input's slice of ``binary`` (None for JSON inputs); the sizes must fill it."""
    out: list[memoryview | None] = []
    offset, end = 0, len(binary)
    for i, tensor in enumerate(inputs):
        size = binary_size(tensor, f"inputs[{i}]")
        if size is None:
            out.append(None)
            continue
        if offset + size > end:
            raise InvalidInput(
                f"inputs[{i}].parameters.binary_data_size: {size} bytes from offset {offset} "
                f"run past the {end} bytes of binary data after the JSON header"
            )
        out.append(binary[offset : offset + size])
        offset += size
    if offset != end:
        raise InvalidInput(
            f"body: {end} bytes of binary data follow the JSON header but the inputs' "
            f"binary_data_size add up to {offset}"
        )
    return out


def _flag(params: Any, key: str, where: str) -> bool | None:
    if params is None:
        return None
    if not isinstance(params, dict):
        raise InvalidInput(f"{where}: expected an object")
    value = params.get(key)
    if value is not None and type(value) is not bool:
        raise InvalidInput(f"{where}.{key}: expected true or false, got {_shown(value)}")
    return value


def binary_output(request: dict[str, Any], output: str) -> bool:
    """Whether ``request`` asks for its output as binary data.

    ``output`` is the model's one output; requesting another name, or the
    classification extension, is refused.
    """
    binary = bool(_flag(request.get("parameters"), "binary_data_output", "parameters"))
    requested = request.get("outputs")
    if requested is None:
        return binary
    if not isinstance(requested, list):
        raise InvalidInput("outputs: expected a list of requested outputs")
    for i, entry in enumerate(requested):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise InvalidInput(f"outputs[{i}]: expected an object with a name")
        if name != output:
            raise InvalidInput(
                f"outputs[{i}].name: no output {_shown(name)}; this model has one, '{output}'"
            )
        params = entry.get("parameters")
        if isinstance(params, dict) and params.get("classification"):
            raise InvalidInput(
                f"outputs[{i}].parameters.classification: the classification extension is "
                "not supported"
            )
        flag = _flag(params, "binary_data", f"outputs[{i}].parameters")
        if flag is not None:
            binary = flag
    return binary


def join(header: bytes, raw: bytes) -> tuple[bytes, int]:
    """A response body of the JSON header followed by the output's bytes, and the
    header's length for ``Inference-Header-Content-Length``."""
    return header + raw, len(header)
