"""Small models trained here for the gRPC tests: FP64, FP32, INT64, BOOL and BYTES inputs.

Each case is a bundle, the tensors a V2 client sends for some rows, and what the model
called in process answers for them (the ``frame`` case, a string-feature DataFrame
pipeline, takes one tensor per feature, one of them BYTES, and answers BYTES labels).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from inferstack.runtime import bundle

KINDS = ["float64", "float32", "int64", "bool", "frame"]
V2_OF = {"float64": "FP64", "float32": "FP32", "int64": "INT64", "bool": "BOOL"}
Tensors = list[tuple[str, np.ndarray]]


def _numeric(dtype: str, rng: np.random.Generator) -> tuple[Any, dict[str, Any], np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    if dtype == "int64":
        x = rng.integers(-5, 6, size=(300, 4)).astype(np.int64)
    elif dtype == "bool":
        x = rng.integers(0, 2, size=(300, 4)).astype(bool)
    else:
        x = rng.normal(size=(300, 4)).astype(dtype)
    y = (x[:, 0].astype(float) + x[:, 1].astype(float) > 0.5).astype(int)
    model = LogisticRegression().fit(x, y)
    return model, {"features": [{"name": f"f{i}", "dtype": dtype} for i in range(4)]}, x[:9]


def _frame(rng: np.random.Generator) -> tuple[Any, pd.DataFrame]:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    n = 200
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": np.round(rng.normal(50.0, 12.0, n), 3),
            "city": rng.choice(["oslo", "paris", "rome", "são paulo"], n),
        }
    )
    y = np.where((df["income"] > 50) ^ (df["city"] == "rome"), "yes", "no")
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("num", StandardScaler(), ["age", "income"]),
        ]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(df, y), df


def build_case(kind: str, out: Path) -> tuple[str, Tensors, np.ndarray]:
    """Bundle the ``kind`` model to ``out``: its name, request tensors, expected outputs."""
    rng = np.random.default_rng(11)
    name = f"m-{kind}"
    if kind == "frame":
        model, df = _frame(rng)
        rows = df.head(9)
        bundle(model, framework="sklearn", name=name, version="1.0.0", out=out, output="label")
        tensors = [
            ("age", rows["age"].to_numpy(np.int64)),
            ("income", rows["income"].to_numpy(np.float64)),
            ("city", rows["city"].to_numpy(object)),
        ]
        return name, tensors, np.asarray(model.predict(rows))
    model, options, x = _numeric(kind, rng)
    bundle(model, framework="sklearn", name=name, version="1.0.0", out=out, **options)
    return name, [("input-0", x)], model.predict_proba(x)


def datatype(arr: np.ndarray) -> str:
    """The V2 datatype a client names for ``arr``."""
    return "BYTES" if arr.dtype == object else V2_OF[str(arr.dtype)]
