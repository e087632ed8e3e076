"""Models fitted on DataFrames, bundled and loaded in-process; library warnings as JSON."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from inferstack.runtime import bundle, load_bundle
from inferstack.runtime.errors import InvalidInput
from inferstack.runtime.logs import Once, library_logger, show_warning
from inferstack.runtime.openapi import v2_model_metadata


def _data(n: int = 160) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.normal(50.0, 10.0, n),
            "city": rng.choice(["oslo", "paris", "rome"], n),
        }
    )
    y = ((df["income"] > 50) ^ (df["city"] == "rome")).to_numpy().astype(int)
    return df, y


def _pipeline(imputer: bool = False) -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    encoder: Any = OneHotEncoder(handle_unknown="ignore")
    if imputer:
        encoder = make_pipeline(SimpleImputer(strategy="most_frequent"), encoder)
    prep = ColumnTransformer(
        [("cat", encoder, ["city"]), ("num", StandardScaler(), ["age", "income"])]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression())])


@pytest.mark.parametrize("imputer", [False, True])
def test_sklearn_pipeline_bundles_without_help(tmp_path: Path, imputer: bool) -> None:
    df, y = _data()
    model = _pipeline(imputer).fit(df, y)
    path = bundle(model, framework="sklearn", name="p", version="1.0.0", out=tmp_path / "b")
    served = load_bundle(path)
    inp = served.manifest.input
    assert inp.frame is True
    assert inp.names == ["age", "income", "city"]  # feature_names_in_
    assert inp.dtypes == ["float64", "float64", "string"]  # strings found in the encoder
    assert inp.categories == {"city": ("oslo", "paris", "rome")}
    rows = df.head(5).to_dict("records")
    np.testing.assert_allclose(served.predict(rows), model.predict_proba(df.head(5)))


def test_sample_gives_dtypes_and_drops_columns_the_model_lacks(tmp_path: Path) -> None:
    df, y = _data()
    model = _pipeline().fit(df, y)
    path = bundle(
        model,
        framework="sklearn",
        name="p",
        version="1.0.0",
        out=tmp_path / "b",
        sample=df.assign(target=y),
    )
    inp = load_bundle(path).manifest.input
    assert inp.names == ["age", "income", "city"]  # the sample's dtypes, the model's columns
    assert inp.dtypes == ["int64", "float64", "string"]


def test_xgboost_and_lightgbm_categoricals(tmp_path: Path) -> None:
    import lightgbm as lgb
    import xgboost as xgb

    df, y = _data()
    df["city"] = df["city"].astype("category")
    models = {
        "xgboost": xgb.XGBClassifier(n_estimators=8, max_depth=3, enable_categorical=True),
        "lightgbm": lgb.LGBMClassifier(n_estimators=8, min_child_samples=5, verbose=-1),
    }
    for framework, model in models.items():
        model.fit(df, y)
        path = bundle(
            model, framework=framework, name="m", version="1.0.0", out=tmp_path / framework
        )
        served = load_bundle(path)
        assert served.manifest.input.frame is True
        assert served.manifest.input.categories == {"city": ("oslo", "paris", "rome")}
        rows = df.head(6).astype({"city": str}).to_dict("records")
        np.testing.assert_allclose(served.predict(rows), model.predict_proba(df.head(6)), rtol=1e-6)
        meta = v2_model_metadata(served.manifest, served.probe_output)
        assert meta["outputs"][0]["shape"] == [-1, 2]
    unknown = [{"age": 30, "income": 50.0, "city": "lima"}]
    with pytest.raises(InvalidInput, match="'lima' is not a category"):
        load_bundle(tmp_path / "xgboost").predict(unknown)
    assert len(load_bundle(tmp_path / "lightgbm").predict(unknown)) == 1  # missing, as in-process


def test_numeric_models_keep_the_numpy_path(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    df, y = _data()
    numeric = df[["age", "income"]]
    model = LogisticRegression().fit(numeric, y)
    served = load_bundle(
        bundle(model, framework="sklearn", name="m", version="1.0.0", out=tmp_path / "b")
    )
    assert served.predictor.fast is not None  # type: ignore[attr-defined]
    x = numeric.head(3).to_numpy(dtype=np.float64)
    assert isinstance(served.predictor.preprocess(x), np.ndarray)
    np.testing.assert_allclose(served.run(x), model.predict_proba(numeric.head(3)))


def test_v2_metadata_shape_from_names_or_a_served_answer(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(1).normal(size=(40, 3))
    y = (x[:, 0] > 0).astype(int)
    path = bundle(
        LogisticRegression().fit(x, y), framework="sklearn", name="m", version="1.0.0", out=tmp_path
    )
    served = load_bundle(path, probe=False)
    assert served.probe_output is None
    meta = v2_model_metadata(served.manifest)["outputs"][0]
    assert meta["shape"] == [-1, 2]  # two class names before any answer
    served.note_output(served.run(x[:3]))
    assert v2_model_metadata(served.manifest, served.probe_output)["outputs"][0]["shape"] == [-1, 2]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_library_warnings_are_logged_once_per_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    import inferstack.runtime.logs as logs

    monkeypatch.setattr(logs, "_ONCE", Once(limit=3))
    handler = _Records()
    logger = logging.getLogger("inferstack.runtime")
    logger.addHandler(handler)
    try:
        for _ in range(5):
            show_warning(UserWarning("X does not have valid feature names"), UserWarning, "f.py", 1)
        show_warning(FutureWarning("X does not have valid feature names"), FutureWarning, "f.py", 2)
        show_warning(UserWarning("another"), UserWarning, "f.py", 3)
        show_warning(UserWarning("one too many"), UserWarning, "f.py", 4)
        show_warning(UserWarning("and more"), UserWarning, "f.py", 5)
    finally:
        logger.removeHandler(handler)
    got = [(r.getMessage(), getattr(r, "category", None)) for r in handler.records]
    assert got == [
        ("X does not have valid feature names", "UserWarning"),
        ("X does not have valid feature names", "FutureWarning"),
        ("another", "UserWarning"),
        ("more than 3 kinds of library warnings; dropping the rest", None),
    ]


def test_library_logger_passes_each_message_once() -> None:
    handler = _Records()
    logger = library_logger("unit-test-lib")
    assert library_logger("unit-test-lib") is logger
    logger.addHandler(handler)
    try:
        for _ in range(3):
            logger.warning("[LightGBM] [Warning] something %d", 1)
        logger.warning("[LightGBM] [Warning] else")
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in handler.records] == [
        "[LightGBM] [Warning] something 1",
        "[LightGBM] [Warning] else",
    ]
