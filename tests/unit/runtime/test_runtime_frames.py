"""DataFrames for models fitted on them: schema features, frame building, the probe."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from inferstack.runtime.errors import BundleError, InvalidInput
from inferstack.runtime.frames import FrameBuilder, features_from_frame, reconcile_features
from inferstack.runtime.manifest import InputSchema, parse_manifest, write_manifest
from inferstack.runtime.model import probe_batch


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "small": np.array([1, 2], dtype=np.int8),
            "big": np.array([1, 2], dtype=np.int64),
            "u32": np.array([1, 2], dtype=np.uint32),
            "f32": np.array([0.5, 1.5], dtype=np.float32),
            "f64": [0.5, 1.5],
            "flag": [True, False],
            "city": pd.Categorical(["rome", "oslo"], categories=["rome", "oslo", "paris"]),
            "note": ["a", None],
        }
    )


def test_features_from_frame_maps_each_dtype() -> None:
    assert features_from_frame(_frame()) == [
        {"name": "small", "dtype": "int32"},
        {"name": "big", "dtype": "int64"},
        {"name": "u32", "dtype": "int64"},
        {"name": "f32", "dtype": "float32"},
        {"name": "f64", "dtype": "float64"},
        {"name": "flag", "dtype": "bool"},
        {"name": "city", "dtype": "string", "categories": ["rome", "oslo", "paris"]},
        {"name": "note", "dtype": "string"},
    ]


@pytest.mark.parametrize(
    ("df", "message"),
    [
        (pd.DataFrame({"when": pd.to_datetime(["2026-01-01"])}), "column 'when'.*unsupported"),
        (pd.DataFrame({0: [1.0]}), "column names must be strings"),
        (pd.DataFrame({"c": pd.Categorical([1, 2])}), "column 'c'.*only string categories"),
        (pd.DataFrame({"o": ["a", 1]}), "column 'o'.*not strings"),
        (pd.DataFrame({"u": np.array([1], dtype=np.uint64)}), "column 'u'.*do not fit int64"),
    ],
)
def test_features_from_frame_names_the_column_it_cannot_map(df: pd.DataFrame, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        features_from_frame(df)


def test_features_from_frame_refuses_non_frames() -> None:
    with pytest.raises(BundleError, match="expected a pandas DataFrame, got ndarray"):
        features_from_frame(np.zeros((2, 2)))


def test_schema_takes_features_from_frame_with_categories_hoisted() -> None:
    schema = InputSchema.model_validate({"features": features_from_frame(_frame()), "frame": True})
    assert schema.categories == {"city": ("rome", "oslo", "paris")}
    assert schema.dtypes[-2:] == ["string", "string"]


def test_schema_checks_categories_and_frame() -> None:
    with pytest.raises(ValueError, match="'x' is not a string feature"):
        InputSchema.model_validate({"features": ["x"], "categories": {"x": ["a"]}})
    with pytest.raises(ValueError, match="expected distinct values"):
        InputSchema.model_validate(
            {"features": [{"name": "s", "dtype": "string"}], "categories": {"s": ["a", "a"]}}
        )
    with pytest.raises(ValueError, match=r"input\.frame needs named features"):
        InputSchema.model_validate({"shape": [2, 2], "frame": True})


def test_old_manifests_load_and_new_numeric_ones_stay_readable(tmp_path: Path) -> None:
    data = {
        "name": "m",
        "version": "1.0.0",
        "framework": "sklearn",
        "artifact": "model.joblib",
        "input": {"features": ["a", "b"]},
    }
    manifest = parse_manifest(data)
    assert manifest.input.frame is None
    assert manifest.input.categories is None
    written = yaml.safe_load(write_manifest(manifest, tmp_path).read_text())
    assert set(written["input"]) == {"features", "dtype", "allow_nan"}


def _mixed_schema(note: bool = True) -> InputSchema:
    features = [
        {"name": "age", "dtype": "int64"},
        {"name": "income", "dtype": "float64"},
        {"name": "city", "dtype": "string", "categories": ["rome", "oslo"]},
        {"name": "flag", "dtype": "bool"},
    ]
    if note:  # a string feature with no known values
        features.append({"name": "note", "dtype": "string"})
    return InputSchema.model_validate({"features": features, "frame": True})


def test_frame_builder_types_each_column_as_the_schema_says() -> None:
    batch = np.array([[30, 1.5, "oslo", True, "x"], [40, 2.5, "rome", False, "y"]], dtype=object)
    df = FrameBuilder(_mixed_schema(note=False), "lightgbm", categorical=True)(batch[:, :4])
    assert list(df.columns) == ["age", "income", "city", "flag"]
    assert [str(t) for t in df.dtypes] == ["int64", "float64", "category", "bool"]
    assert list(df["city"].cat.categories) == ["rome", "oslo"]
    assert df["age"].tolist() == [30, 40]
    plain = FrameBuilder(_mixed_schema(), "sklearn")(batch)
    assert [str(plain[c].dtype) for c in ("age", "income", "flag")] == ["int64", "float64", "bool"]
    # strings stay strings (pandas 3 infers its "str" dtype, as in the user's own frames)
    assert pd.api.types.is_string_dtype(plain["city"])
    assert plain["note"].tolist() == ["x", "y"]
    assert plain["city"].tolist() == ["oslo", "rome"]


def test_frame_builder_casts_a_numeric_batch_per_column() -> None:
    schema = InputSchema.model_validate(
        {"features": [{"name": "n", "dtype": "int32"}, {"name": "x", "dtype": "float64"}]}
    )
    df = FrameBuilder(schema, "sklearn")(np.array([[1.0, 0.5], [2.0, 1.5]]))
    assert [str(t) for t in df.dtypes] == ["int32", "float64"]


def test_unknown_categories_are_missing_or_refused() -> None:
    batch = np.array([[30, 1.5, "lima", True]], dtype=object)
    df = FrameBuilder(_mixed_schema(note=False), "lightgbm", categorical=True)(batch)
    assert df["city"].isna().all()
    schema = _mixed_schema(note=False)
    refusing = FrameBuilder(schema, "xgboost", categorical=True, refuse_unknown=True)
    with pytest.raises(InvalidInput, match="feature 'city': 'lima' is not a category"):
        refusing(batch)


def test_categorical_frames_need_the_categories() -> None:
    schema = InputSchema.model_validate(
        {"features": [{"name": "s", "dtype": "string"}], "frame": True}
    )
    with pytest.raises(BundleError, match="string feature 's' only as a category"):
        FrameBuilder(schema, "xgboost", categorical=True)


def _manifest(schema: InputSchema) -> object:
    return parse_manifest(
        {
            "name": "m",
            "version": "1.0.0",
            "framework": "sklearn",
            "artifact": "model.joblib",
            "input": schema.model_dump(exclude_none=True),
        }
    )


def test_probe_uses_a_training_category_and_zeros() -> None:
    batch = probe_batch(_manifest(_mixed_schema()))  # type: ignore[arg-type]
    assert batch.dtype == object
    assert batch.tolist() == [[0, 0.0, "rome", False, ""]] * 2
    assert [type(v) for v in batch[0]] == [int, float, str, bool, str]


def test_probe_of_a_numeric_schema_is_zeros_in_the_batch_dtype() -> None:
    schema = InputSchema.model_validate({"features": ["a", "b"], "dtype": "float32"})
    batch = probe_batch(_manifest(schema))  # type: ignore[arg-type]
    assert batch.dtype == np.float32
    assert batch.shape == (2, 2)
    assert not batch.any()


def test_reconcile_picks_a_samples_columns_in_the_models_order() -> None:
    fitted = [{"name": "b"}, {"name": "city", "dtype": "string", "categories": ["x", "y"]}]
    sample = [
        {"name": "city", "dtype": "string", "categories": ["y", "x"]},
        {"name": "target", "dtype": "int64"},
        {"name": "b", "dtype": "int64"},
    ]
    assert reconcile_features(fitted, sample, from_sample=True) == [
        {"name": "b", "dtype": "int64"},
        {"name": "city", "dtype": "string", "categories": ["x", "y"]},
    ]
    with pytest.raises(BundleError, match="sample lacks the column 'b'"):
        reconcile_features(fitted, sample[:1], from_sample=True)
    assert reconcile_features(fitted, ["b", "city"], from_sample=False) == ["b", fitted[1]]
