"""The V2 binary tensor data extension: tensors to and from raw bytes, and the framing.

Round trips per datatype, every malformed case named, and hypothesis fuzzing of whole
bodies (header, JSON, binary tail): decoding either gives a batch or raises
``InvalidInput``, never anything else.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from inferstack.runtime import InvalidInput
from inferstack.runtime.manifest import InputSchema
from inferstack.runtime.protocols import decode_v2, encode_v2_binary, parse_json
from inferstack.runtime.schema import RowDecoder
from inferstack.runtime.v2_binary import binary_output, input_buffers, split
from inferstack.runtime.v2_tensors import V2_TO_NP, bytes_to_raw, from_raw, to_raw

FIXED = [k for k, v in V2_TO_NP.items() if v is not object]
FLOATS = RowDecoder(InputSchema.model_validate({"features": ["a", "b"], "dtype": "float64"}))
MIXED = RowDecoder(
    InputSchema.model_validate(
        {
            "features": [
                {"name": "age", "dtype": "int64"},
                {"name": "city", "dtype": "string"},
                {"name": "member", "dtype": "bool"},
            ]
        }
    )
)


def _body(inputs: list[dict[str, Any]], tail: bytes, **extra: Any) -> tuple[bytes, bytes]:
    header = orjson.dumps({"inputs": inputs, **extra})
    return header + tail, str(len(header)).encode()


def _decode(body: bytes, header: bytes, decoder: RowDecoder = FLOATS) -> np.ndarray:
    json_part, binary = split(body, header)
    return decode_v2(parse_json(json_part), decoder, binary)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), datatype=st.sampled_from(FIXED))
def test_fixed_size_tensors_round_trip(data: st.DataObject, datatype: str) -> None:
    dtype = np.dtype(V2_TO_NP[datatype])
    arr = data.draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=3, max_side=5)))
    name, raw = to_raw(arr)
    assert name == datatype
    assert len(raw) == arr.size * dtype.itemsize
    back = from_raw(raw, datatype, arr.shape, "t")
    assert back.dtype == dtype
    assert back.flags.writeable
    np.testing.assert_array_equal(back, arr)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=8))
def test_bytes_tensors_round_trip(values: list[str]) -> None:
    arr = np.array(values, dtype=object)
    name, raw = to_raw(arr)
    assert name == "BYTES"
    assert raw == b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)
    assert from_raw(raw, "BYTES", [len(values)], "t").tolist() == values


def test_little_endian_on_the_wire() -> None:
    assert to_raw(np.array([1], dtype=np.int32))[1] == b"\x01\x00\x00\x00"
    assert from_raw(b"\x00\x00\x80\x3f", "FP32", [1], "t").tolist() == [1.0]
    assert from_raw(b"\x01\x00", "BOOL", [2], "t").tolist() == [True, False]


@pytest.mark.parametrize(
    ("raw", "datatype", "shape", "message"),
    [
        (
            b"\x00" * 12,
            "FP64",
            [2],
            r"t: binary_data_size is 12 bytes but shape \[2\] of FP64 needs 16",
        ),
        (b"\x00" * 3, "INT32", [1, 1], "needs 4 bytes"),
        (b"\x02", "BOOL", [1], "BOOL element is neither 0 nor 1"),
        (
            b"\x05\x00\x00\x00abc",
            "BYTES",
            [1],
            "BYTES element 0 of 1 has length 5, which runs past",
        ),
        (b"\x01\x00", "BYTES", [1], "its 4-byte length runs past the end"),
        (b"\x01\x00\x00\x00ab", "BYTES", [1], "1 bytes left after the 1 BYTES elements"),
        (b"\x01\x00\x00\x00a", "BYTES", [2], "BYTES element 1 of 2"),
        (b"\x02\x00\x00\x00\xff\xfe", "BYTES", [1], "BYTES element 0 is not UTF-8"),
        (b"", "FP99", [1], "datatype: expected one of"),
    ],
)
def test_malformed_tensor_bytes_are_named(
    raw: bytes, datatype: str, shape: list[int], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        from_raw(raw, datatype, shape, "t")


def test_mixed_binary_and_json_tensors() -> None:
    inputs = [
        {"name": "age", "shape": [2], "datatype": "INT64", "parameters": {"binary_data_size": 16}},
        {"name": "city", "shape": [2], "datatype": "BYTES", "data": ["oslo", "rome"]},
        {"name": "member", "shape": [2], "datatype": "BOOL", "parameters": {"binary_data_size": 2}},
    ]
    tail = np.array([30, 41], dtype="<i8").tobytes() + b"\x01\x00"
    batch = _decode(*_body(inputs, tail), MIXED)
    assert batch.tolist() == [[30, "oslo", True], [41, "rome", False]]
    inputs[1] = {
        "name": "city",
        "shape": [2],
        "datatype": "BYTES",
        "parameters": {"binary_data_size": 16},
    }
    tail = tail[:16] + bytes_to_raw(["oslo", "rome"]) + tail[16:]
    assert _decode(*_body(inputs, tail), MIXED).tolist() == batch.tolist()


def _one(size: Any, shape: list[int] | None = None) -> list[dict[str, Any]]:
    return [
        {
            "name": "x",
            "shape": shape or [1, 2],
            "datatype": "FP64",
            "parameters": {"binary_data_size": size},
        }
    ]


@pytest.mark.parametrize(
    ("body", "header", "message"),
    [
        (*_body(_one(16), b"\x00" * 8), "binary_data_size: 16 bytes from offset 0 run past the 8"),
        (*_body(_one(8), b"\x00" * 16), "16 bytes of binary data follow the JSON header but"),
        (*_body(_one(16, [1, 3]), b"\x00" * 16), r"shape \[1, 3\] of FP64 needs 24 bytes"),
        (*_body(_one(-16), b""), "binary_data_size: expected a non-negative integer, got -16"),
        (*_body(_one(16.0), b"\x00" * 16), "expected a non-negative integer, got 16.0"),
        (*_body(_one(True), b"\x00"), "expected a non-negative integer, got True"),
        (*_body(_one("16"), b"\x00" * 16), "expected a non-negative integer, got '16'"),
        (b'{"inputs": []}', b"999", "Inference-Header-Content-Length is 999 bytes but the body"),
        (b'{"inputs": []}', b"-1", "header: expected a non-negative integer, got '-1'"),
        (b'{"inputs": []}', b"1.5", "expected a non-negative integer, got '1.5'"),
        (b'{"inputs": []}', b"", "expected a non-negative integer"),
        (b'{"inputs": []}xx', b"5", "malformed JSON"),
    ],
)
def test_malformed_framing_is_named(body: bytes, header: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        _decode(body, header)


def test_data_and_binary_size_together_are_refused() -> None:
    inputs = _one(16)
    inputs[0]["data"] = [1.0, 2.0]
    with pytest.raises(InvalidInput, match=r"inputs\[0\]: give either data or"):
        _decode(*_body(inputs, b"\x00" * 16))


def test_binary_size_without_the_header_says_so() -> None:
    with pytest.raises(InvalidInput, match="no Inference-Header-Content-Length header"):
        decode_v2({"inputs": _one(16)}, FLOATS)


def test_input_buffers_slice_in_order() -> None:
    inputs = [
        {"parameters": {"binary_data_size": 2}},
        {"data": [1]},
        {"parameters": {"binary_data_size": 3}},
    ]
    parts = input_buffers(inputs, memoryview(b"abcde"))
    assert [bytes(p) if p is not None else None for p in parts] == [b"ab", None, b"cde"]


@pytest.mark.parametrize(
    ("request_obj", "expected"),
    [
        ({}, False),
        ({"parameters": {"binary_data_output": True}}, True),
        ({"outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}]}, True),
        ({"outputs": [{"name": "probabilities"}]}, False),
        (
            {
                "parameters": {"binary_data_output": True},
                "outputs": [{"name": "probabilities", "parameters": {"binary_data": False}}],
            },
            False,
        ),
        ({"outputs": []}, False),
    ],
)
def test_binary_output_choice(request_obj: dict[str, Any], expected: bool) -> None:
    assert binary_output(request_obj, "probabilities") is expected


@pytest.mark.parametrize(
    ("request_obj", "message"),
    [
        ({"outputs": [{"name": "label"}]}, r"outputs\[0\].name: no output 'label'; this model"),
        ({"outputs": {"name": "x"}}, "outputs: expected a list"),
        ({"outputs": [3]}, r"outputs\[0\]: expected an object with a name"),
        ({"parameters": {"binary_data_output": "yes"}}, "binary_data_output: expected true or"),
        ({"parameters": []}, "parameters: expected an object"),
        (
            {"outputs": [{"name": "probabilities", "parameters": {"classification": 2}}]},
            "classification extension is not supported",
        ),
    ],
)
def test_bad_output_requests_are_named(request_obj: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        binary_output(request_obj, "probabilities")


def test_binary_response_framing() -> None:
    out = np.array([[0.25, 0.75]])
    body, size = encode_v2_binary(out, "m", "1.0.0", "probabilities", "r1")
    header = orjson.loads(body[:size])
    assert header["id"] == "r1"
    assert header["outputs"][0] == {
        "name": "probabilities",
        "datatype": "FP64",
        "shape": [1, 2],
        "parameters": {"binary_data_size": 16},
    }
    assert np.frombuffer(body[size:], "<f8").tolist() == [0.25, 0.75]
    body, size = encode_v2_binary(np.array(["yes", "no"], dtype=object), "m", "1", "label", None)
    assert orjson.loads(body[:size])["outputs"][0]["datatype"] == "BYTES"
    assert from_raw(body[size:], "BYTES", [2], "out").tolist() == ["yes", "no"]


_SIZES = st.one_of(
    st.integers(-3, 40), st.floats(allow_nan=False), st.booleans(), st.text(max_size=3)
)
_TENSOR = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["x", "a", "b", "age", "city", "member"]),
        "shape": st.lists(st.integers(-1, 4), min_size=0, max_size=3),
        "datatype": st.sampled_from([*V2_TO_NP, "FP99"]),
    },
    optional={
        "parameters": st.fixed_dictionaries({"binary_data_size": _SIZES}),
        "data": st.lists(st.one_of(st.integers(-3, 3), st.floats(), st.booleans(), st.text())),
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    inputs=st.lists(_TENSOR, min_size=0, max_size=4),
    tail=st.binary(max_size=64),
    header_delta=st.integers(-5, 5),
    decoder=st.sampled_from([FLOATS, MIXED]),
)
def test_fuzzed_bodies_decode_or_are_refused(
    inputs: list[dict[str, Any]], tail: bytes, header_delta: int, decoder: RowDecoder
) -> None:
    body, header = _body(inputs, tail)
    header = str(int(header) + header_delta).encode()
    try:
        batch = _decode(body, header, decoder)
    except InvalidInput as err:
        message = err.message
    else:
        message = "decoded"
        assert len(batch) >= 1
    assert message


@settings(max_examples=200, deadline=None)
@given(raw=st.binary(max_size=48), count=st.integers(0, 6))
def test_fuzzed_bytes_elements_decode_or_are_refused(raw: bytes, count: int) -> None:
    try:
        values = from_raw(raw, "BYTES", [count], "t")
    except InvalidInput as err:
        message = err.message
    else:
        message = "t: decoded"
        assert len(values) == count
        assert bytes_to_raw(list(values)) == raw
    assert message.startswith("t: ")
