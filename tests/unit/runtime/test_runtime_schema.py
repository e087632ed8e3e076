"""Row decoding against the input schema, and the protocols' request shapes."""

from __future__ import annotations

import numpy as np
import pytest

from inferstack.runtime import InvalidInput
from inferstack.runtime.manifest import InputSchema
from inferstack.runtime.protocols import decode_azure, decode_json, decode_v2, encode_csv, encode_v2
from inferstack.runtime.schema import RowDecoder

MIXED = RowDecoder(
    InputSchema.model_validate(
        {
            "features": [
                {"name": "age", "dtype": "int64"},
                {"name": "income", "dtype": "float64"},
                {"name": "member", "dtype": "bool"},
            ]
        }
    )
)
FLOATS = RowDecoder(InputSchema.model_validate({"features": ["a", "b"], "dtype": "float32"}))


def test_numeric_rows_become_one_typed_array() -> None:
    arr = FLOATS.decode([[1, 2.5], [3.0, -4]], "instances")
    assert arr.dtype == np.float32
    assert arr.tolist() == [[1.0, 2.5], [3.0, -4.0]]
    assert FLOATS.decode([{"b": 2, "a": 1}], "instances").tolist() == [[1.0, 2.0]]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[1, 2.0, True], [1.5, 2.0, False]], "instances[1] (feature 'age'): expected an integer"),
        ([[1, "2", True]], "instances[0][1] (feature 'income'): expected number, got str"),
        ([[1, 2.0, 1]], "instances[0][2] (feature 'member'): expected boolean, got int"),
        ([[1, 2.0]], "instances[0]: expected a list of 3 values, got 2 values"),
        ([5], "instances[0]: expected a list of 3 values, got int"),
        ("rows", "instances: expected a non-empty list of rows"),
    ],
)
def test_bad_rows_name_the_field(rows: object, message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        MIXED.decode(rows, "instances")
    assert message in info.value.message


def test_nan_is_refused_unless_allowed() -> None:
    with pytest.raises(InvalidInput, match=r"feature 'b'.*NaN"):
        FLOATS.decode_csv("1,nan\n")
    lenient = RowDecoder(InputSchema.model_validate({"features": ["a", "b"], "allow_nan": True}))
    assert np.isnan(lenient.decode([[1.0, None]], "instances")[0, 1])


def test_tensor_rows_are_reshaped() -> None:
    image = RowDecoder(InputSchema.model_validate({"shape": [2, 2], "dtype": "float32"}))
    assert image.decode([[[1, 2], [3, 4]]], "instances").shape == (1, 2, 2)
    with pytest.raises(InvalidInput, match=r"expected rows of shape \[2, 2\], got \[3\]"):
        image.decode([[1, 2, 3]], "instances")


def test_protocol_shapes_decode_to_the_same_batch() -> None:
    rows = [[1.0, 2.0], [3.0, 4.0]]
    expected = np.asarray(rows, dtype=np.float32)
    np.testing.assert_array_equal(decode_json({"instances": rows}, FLOATS), expected)
    np.testing.assert_array_equal(decode_json(rows, FLOATS), expected)
    np.testing.assert_array_equal(decode_azure({"data": rows}, FLOATS), expected)
    split = {"input_data": {"columns": ["b", "a"], "data": [[2.0, 1.0], [4.0, 3.0]]}}
    np.testing.assert_array_equal(decode_azure(split, FLOATS), expected)
    tensor = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
    np.testing.assert_array_equal(decode_v2(tensor, FLOATS), expected)
    per_feature = {
        "inputs": [
            {"name": "a", "shape": [2], "datatype": "FP64", "data": [1, 3]},
            {"name": "b", "shape": [2, 1], "datatype": "FP64", "data": [[2], [4]]},
        ]
    }
    np.testing.assert_array_equal(decode_v2(per_feature, FLOATS), expected)


def test_outputs_encode_for_v2_and_csv() -> None:
    out = np.asarray([[0.25, 0.75]])
    body = encode_v2(out, "m", "1.0.0", "probabilities", "id-1")
    assert b'"shape":[1,2]' in body
    assert b'"datatype":"FP64"' in body
    assert b'"id":"id-1"' in body
    assert encode_csv(out) == b"0.25,0.75\n"
    labels = encode_v2(np.asarray(["yes", "no"], dtype=object), "m", "1", "label", None)
    assert b'"datatype":"BYTES"' in labels
    assert b'"data":["yes","no"]' in labels


INTS = RowDecoder(InputSchema.model_validate({"features": ["a", "b"], "dtype": "int32"}))


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([[1, 2.5]], "instances[0] (feature 'b'): expected an integer"),
        ([[1e30, 2]], "instances[0] (feature 'a'): value out of range for int32"),
        ([[1, 2**40]], "instances: values do not fit"),
    ],
)
def test_integer_features_are_never_truncated_or_wrapped(rows: object, message: str) -> None:
    assert INTS.decode([[1, 2.0]], "instances").tolist() == [[1, 2]]
    with pytest.raises(InvalidInput) as info:
        INTS.decode(rows, "instances")
    assert message in info.value.message


def test_v2_tensors_that_do_not_fit_the_schema_dtype_are_refused() -> None:
    wide = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT64", "data": [1, 2**40]}]}
    with pytest.raises(InvalidInput, match=r"feature 'b'\): value out of range for int32"):
        decode_v2(wide, INTS)
    big = {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP64", "data": [1e39, 1]}]}
    with pytest.raises(InvalidInput, match=r"feature 'a'\): value out of range for float32"):
        decode_v2(big, FLOATS)


def test_azure_split_rows_must_fill_the_columns() -> None:
    split = {"input_data": {"columns": ["a", "b"], "data": [[1.0, 2.0, 3.0]]}}
    with pytest.raises(InvalidInput, match=r"input_data.data\[0\]: 3 values for 2 columns"):
        decode_azure(split, FLOATS)


def test_csv_quotes_labels_that_hold_separators() -> None:
    labels = np.asarray(["plain", 'say "hi", then go'], dtype=object)
    assert encode_csv(labels) == b'plain\n"say ""hi"", then go"\n'


def test_v2_feature_tensors_may_not_repeat() -> None:
    tensor = {"name": "a", "shape": [1], "datatype": "FP64", "data": [1.0]}
    body = {"inputs": [tensor, tensor, {**tensor, "name": "b"}]}
    with pytest.raises(InvalidInput, match="inputs: tensor 'a' is given more than once"):
        decode_v2(body, FLOATS)


WITH_TEXT = RowDecoder(
    InputSchema.model_validate(
        {
            "features": [
                {"name": "amount", "dtype": "float64"},
                {"name": "city", "dtype": "string"},
                {"name": "count", "dtype": "int64"},
                {"name": "member", "dtype": "bool"},
            ]
        }
    )
)


def test_rows_with_a_string_feature_are_typed_alike_on_every_protocol() -> None:
    expected = [[1.0, "Paris, FR", 3, True]]
    as_json = WITH_TEXT.decode([[1, "Paris, FR", 3, True]], "instances")
    as_csv = WITH_TEXT.decode_csv('1,"Paris, FR",3,true\n')
    tensors = [
        {"name": "amount", "shape": [1], "datatype": "INT64", "data": [1]},
        {"name": "city", "shape": [1], "datatype": "BYTES", "data": ["Paris, FR"]},
        {"name": "count", "shape": [1], "datatype": "FP64", "data": [3.0]},
        {"name": "member", "shape": [1], "datatype": "BOOL", "data": [True]},
    ]
    as_v2 = decode_v2({"inputs": tensors}, WITH_TEXT)
    for arr in (as_json, as_csv, as_v2):
        assert arr.tolist() == expected
        assert [type(v) for v in arr[0]] == [float, str, int, bool]


@pytest.mark.parametrize(
    ("csv_text", "message"),
    [
        ("abc,x,3,true\n", "body line 1 (feature 'amount'): 'abc' is not a number"),
        ("nan,x,3,true\n", "body[0] (feature 'amount'): NaN or infinity is not allowed"),
        ("1,x,3.5,true\n", "body[0] (feature 'count'): expected an integer"),
        ("1,x,3,maybe\n", "body line 1 (feature 'member'): 'maybe' is not a boolean"),
        ("1,x,1e30,true\n", "body[0] (feature 'count'): value out of range for int64"),
    ],
)
def test_csv_with_a_string_feature_still_checks_the_other_features(
    csv_text: str, message: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        WITH_TEXT.decode_csv(csv_text)
    assert message in info.value.message


def test_json_and_v2_with_a_string_feature_check_every_feature() -> None:
    with pytest.raises(InvalidInput, match=r"instances\[0\] \(feature 'count'\): expected an int"):
        WITH_TEXT.decode([[1.0, "x", 3.5, True]], "instances")
    one_tensor = {"name": "x", "shape": [1, 4], "datatype": "BYTES", "data": ["1", "x", "3", "1"]}
    with pytest.raises(InvalidInput, match=r"feature 'amount'\): expected number, got str"):
        decode_v2({"inputs": [one_tensor]}, WITH_TEXT)
    tensors = [
        {"name": "amount", "shape": [1], "datatype": "BYTES", "data": ["zz"]},
        {"name": "city", "shape": [1], "datatype": "BYTES", "data": ["x"]},
        {"name": "count", "shape": [1], "datatype": "INT64", "data": [3]},
        {"name": "member", "shape": [1], "datatype": "BOOL", "data": [True]},
    ]
    with pytest.raises(InvalidInput, match="tensor 'amount' has datatype BYTES; feature 'amount'"):
        decode_v2({"inputs": tensors}, WITH_TEXT)
    tensors[0] = {"name": "amount", "shape": [1], "datatype": "FP64", "data": [1.0]}
    tensors[3] = {"name": "member", "shape": [1], "datatype": "FP64", "data": [7.0]}
    with pytest.raises(InvalidInput, match="feature 'member' expects boolean"):
        decode_v2({"inputs": tensors}, WITH_TEXT)
