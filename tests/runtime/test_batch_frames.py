"""Batch scoring's column batches: the same DataFrame and the same checks as the server's rows."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from inferstack.runtime.batch_decode import decode_columns
from inferstack.runtime.errors import InvalidInput
from inferstack.runtime.frames import Columns, FrameBuilder
from inferstack.runtime.manifest import InputSchema
from inferstack.runtime.schema import RowDecoder

FEATURES = [
    {"name": "n64", "dtype": "float64"},
    {"name": "n32", "dtype": "float32"},
    {"name": "i32", "dtype": "int32"},
    {"name": "i64", "dtype": "int64"},
    {"name": "flag", "dtype": "bool"},
    {"name": "city", "dtype": "string"},
]
CITIES = ["oslo", "paris", "rome", "san jose, ca"]


def _schema(categories: bool = False) -> InputSchema:
    extra: dict[str, Any] = {"categories": {"city": CITIES}} if categories else {}
    return InputSchema.model_validate({"features": FEATURES, "frame": True, **extra})


def _columns(n: int, strings: str) -> list[Any]:
    rng = np.random.default_rng(n)
    city = rng.choice([*CITIES, "lima", "NA", ""], n).astype(object)
    big = rng.integers(-(2**62), 2**62, n)
    # rounds to another float32 directly than through float64 (a tie there)
    big[0] = 2**60 + 2**35 + 1
    text: Any = city
    if strings != "numpy":
        text = pa.array(city.tolist(), pa.large_string() if strings == "large" else pa.string())
    return [
        rng.normal(size=n) * 1e3,
        big,  # integers for a float32 feature, beyond 2**53 (rounded as the server does)
        rng.integers(-100, 100, n).astype(np.float64),  # whole floats for an int feature
        rng.integers(-(2**40), 2**40, n),
        rng.integers(0, 2, n).astype(bool),
        text,
    ]


@pytest.mark.parametrize("strings", ["numpy", "string", "large"])
@pytest.mark.parametrize("categorical", [False, True], ids=["object", "category"])
def test_columns_give_the_dataframe_the_servers_rows_batch_gives(
    strings: str, categorical: bool
) -> None:
    schema = _schema(categorical)
    decoder = RowDecoder(schema)
    builder = FrameBuilder(schema, "sklearn", categorical=categorical)
    columns = _columns(2_000, strings)
    as_rows = decode_columns(decoder, columns, 0)
    as_columns = decode_columns(decoder, columns, 0, columnar=True)
    assert isinstance(as_rows.batch, np.ndarray)
    assert as_rows.batch.dtype == object
    assert isinstance(as_columns.batch, Columns)
    # the server's path: the rows as JSON would carry them, decoded by its decoder
    served = decoder.decode(as_rows.batch.tolist(), "instances")
    expected = builder(served)
    pd.testing.assert_frame_equal(builder(as_rows.batch), expected, check_exact=True)
    pd.testing.assert_frame_equal(builder(as_columns.batch), expected, check_exact=True)


@pytest.mark.parametrize("source", ["parquet", "csv"])
def test_a_pipeline_may_write_into_the_dataframe_it_gets(source: str) -> None:
    """pyarrow and pandas hand out read-only views; the server's DataFrame is writable."""
    schema = _schema()
    decoder = RowDecoder(schema)
    columns = _columns(40, "numpy")
    table = pa.table({f["name"]: c for f, c in zip(FEATURES, columns, strict=True)})
    if source == "parquet":
        read = [table.column(j).to_numpy() for j in range(len(FEATURES))]
    else:
        frame = table.to_pandas()
        read = [frame[f["name"]].to_numpy() for f in FEATURES]
    assert not all(v.flags.writeable for v in read[:-1])  # the views this is about
    batch = decode_columns(decoder, read, 0, columnar=True).batch
    df = FrameBuilder(schema, "sklearn", categorical=False)(batch)
    df.loc[df["n64"] > 0, "n64"] = 0.0  # what a FunctionTransformer may do in place
    df.iloc[0, 3] = 1
    assert (df["n64"] <= 0).all()


def test_bad_cells_of_pyarrow_strings_are_rejected_and_the_rest_kept_in_order() -> None:
    schema = _schema()
    decoder = RowDecoder(schema)
    columns = _columns(50, "string")
    cities = columns[5].to_pylist()
    cities[7] = cities[31] = None
    columns[5] = pa.array(cities, pa.string())
    columns[0][12] = np.nan
    decoded = decode_columns(decoder, columns, 100, columnar=True)
    assert decoded.rejects == [
        [107, "row 107 (feature 'city'): expected string, got null"],
        [112, "row 112 (feature 'n64'): NaN or infinity is not allowed"],
        [131, "row 131 (feature 'city'): expected string, got null"],
    ]
    good = [i for i in range(50) if i not in (7, 12, 31)]
    assert decoded.rows.tolist() == [100 + i for i in good]
    assert isinstance(decoded.batch, Columns)
    frame = FrameBuilder(schema, "sklearn")(decoded.batch)
    assert frame["city"].tolist() == [cities[i] for i in good]
    np.testing.assert_array_equal(frame["n64"].to_numpy(), columns[0][good])


def test_refused_unknown_categories_name_the_value_from_pyarrow_strings() -> None:
    schema = _schema(categories=True)
    builder = FrameBuilder(schema, "xgboost", categorical=True, refuse_unknown=True)
    columns = _columns(20, "string")
    columns[5] = pa.array(["oslo"] * 19 + ["lima"])
    with pytest.raises(InvalidInput, match="feature 'city': 'lima' is not a category"):
        builder(Columns(columns))
