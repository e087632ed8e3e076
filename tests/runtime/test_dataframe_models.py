"""Models fitted on pandas DataFrames, served by real servers on every route.

A scikit-learn ColumnTransformer pipeline (one-hot strings, scaled numbers), and
XGBoost and LightGBM models with a ``category`` column, each trained here, bundled
through the Python API and called over HTTP; answers equal the model's own on the
same DataFrame. Library warnings reach the log as JSON, once per kind.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
import yaml

from inferstack.runtime import bundle
from tests.runtime.server import RuntimeServer

Scorer = Callable[[pd.DataFrame], np.ndarray]


def _data(n: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    df = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": np.round(rng.normal(50.0, 12.0, n), 3),
            "city": rng.choice(["oslo", "paris", "rome", "san jose, ca"], n),
        }
    )
    y = ((df["income"] > 50) ^ (df["city"] == "rome") | (df["age"] > 70)).to_numpy().astype(int)
    return df, y


def _sklearn(df: pd.DataFrame, y: np.ndarray) -> tuple[Any, pd.DataFrame]:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("num", StandardScaler(), ["age", "income"]),
        ]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(df, y), df


def _xgboost(df: pd.DataFrame, y: np.ndarray) -> tuple[Any, pd.DataFrame]:
    import xgboost as xgb

    frame = df.astype({"city": "category"})
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3, enable_categorical=True)
    return model.fit(frame, y), frame


def _lightgbm(df: pd.DataFrame, y: np.ndarray) -> tuple[Any, pd.DataFrame]:
    import lightgbm as lgb

    frame = df.astype({"city": "category"})
    model = lgb.LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1)
    return model.fit(frame, y), frame


TRAIN = {"sklearn": _sklearn, "xgboost": _xgboost, "lightgbm": _lightgbm}


@pytest.fixture(scope="module", params=sorted(TRAIN))
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RuntimeServer, Scorer, pd.DataFrame, str]]:
    framework = request.param
    df, y = _data()
    model, frame = TRAIN[framework](df, y)
    out = tmp_path_factory.mktemp("frames") / framework
    bundle(model, framework=framework, name=f"{framework}-frame", version="1.0.0", out=out)

    categorical = isinstance(frame["city"].dtype, pd.CategoricalDtype)

    def scorer(rows: pd.DataFrame) -> np.ndarray:
        # the model in-process, on a DataFrame as a user builds one (its own categories)
        return np.asarray(
            model.predict_proba(rows.astype({"city": "category"}) if categorical else rows)
        )

    with RuntimeServer(out, tmp_path_factory.mktemp("logs")) as server:
        yield server, scorer, df.head(7), framework
    _assert_json_lines(server.log_path.read_text())  # no request wrote anything else


def _assert_json_lines(text: str) -> list[dict[str, Any]]:
    records = []
    for line in text.splitlines():
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            pytest.fail(f"a log line is not JSON: {line!r}")
    return records


def _rows(df: pd.DataFrame) -> list[list[Any]]:
    return [[int(a), float(i), str(c)] for a, i, c in df.itertuples(index=False)]


def _close(got: Any, expected: np.ndarray) -> None:
    np.testing.assert_allclose(np.asarray(got, dtype=np.float64), expected, rtol=1e-6, atol=1e-9)


def test_invocations_json_lists_and_objects(served: Any) -> None:
    server, scorer, df, _ = served
    expected = scorer(df)
    for body in ({"instances": _rows(df)}, {"instances": df.to_dict("records")}):
        response = server.post(
            "/invocations", content=orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)
        )
        assert response.status_code == 200, response.text
        _close(response.json()["predictions"], expected)


def test_invocations_csv(served: Any) -> None:
    server, scorer, df, _ = served
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(_rows(df))  # quotes "san jose, ca"
    response = server.post(
        "/invocations", content=text.getvalue(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    _close(response.json()["predictions"], scorer(df))
    as_csv = server.post(
        "/invocations",
        content=text.getvalue(),
        headers={"Content-Type": "text/csv", "Accept": "text/csv"},
    )
    assert as_csv.status_code == 200, as_csv.text
    _close(list(csv.reader(io.StringIO(as_csv.text))), scorer(df))


def test_v2_infer_one_tensor_per_feature(served: Any) -> None:
    server, scorer, df, framework = served
    n = len(df)
    body = {
        "id": "r1",
        "inputs": [
            {"name": "age", "shape": [n], "datatype": "INT64", "data": df["age"].tolist()},
            {"name": "income", "shape": [n], "datatype": "FP64", "data": df["income"].tolist()},
            {"name": "city", "shape": [n], "datatype": "BYTES", "data": df["city"].tolist()},
        ],
    }
    response = server.post(f"/v2/models/{framework}-frame/infer", json=body)
    assert response.status_code == 200, response.text
    out = response.json()["outputs"][0]
    assert out["shape"] == [n, 2]
    _close(np.asarray(out["data"]).reshape(out["shape"]), scorer(df))
    meta = server.get(f"/v2/models/{framework}-frame").json()
    assert meta["outputs"][0]["shape"] == [-1, 2]
    assert [t["datatype"] for t in meta["inputs"]][-1] == "BYTES"


def test_predict_and_score(served: Any) -> None:
    server, scorer, df, _ = served
    response = server.post("/predict", json={"instances": df.to_dict("records")})
    assert response.status_code == 200, response.text
    _close(response.json()["predictions"], scorer(df))
    split = {"columns": list(df.columns), "data": _rows(df)}
    scored = server.post("/score", json={"input_data": split})
    assert scored.status_code == 200, scored.text
    _close(scored.json()["predictions"], scorer(df))


def test_bad_cells_are_400s_naming_the_feature(served: Any) -> None:
    server, _, df, _ = served
    row = _rows(df)[0]
    response = server.post("/predict", json={"instances": [[row[0], "rich", row[2]]]})
    assert response.status_code == 400
    assert "feature 'income'" in response.json()["error"]["message"]


def test_library_warnings_reach_the_log_as_json_once(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A bundle made before frames (no ``input.frame``) of a model fitted on a DataFrame:
    scikit-learn warns "X does not have valid feature names" on each call."""
    from sklearn.ensemble import RandomForestClassifier

    df, y = _data()
    numeric = df[["age", "income"]].astype(np.float64)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(numeric, y)
    out = bundle(model, framework="sklearn", name="old", version="1.0.0", out=tmp_path / "b")
    manifest_path = out / "inferstack.yaml"
    manifest = yaml.safe_load(manifest_path.read_text())
    manifest["input"].pop("frame")
    manifest_path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    with RuntimeServer(out, tmp_path_factory.mktemp("logs")) as server:
        for i in range(12):
            response = server.post("/invocations", json={"instances": [[30.0 + i, 50.0]]})
            assert response.status_code == 200, response.text
            row = pd.DataFrame({"age": [30.0 + i], "income": [50.0]})
            _close(response.json()["predictions"], model.predict_proba(row))
    records = _assert_json_lines(server.log_path.read_text())
    named = [r for r in records if "valid feature names" in r.get("msg", "")]
    assert len(named) == 1, records
    assert named[0]["category"] == "UserWarning"
    assert named[0]["level"] == "warning"


def test_a_city_never_seen_in_training(served: Any) -> None:
    """XGBoost refuses an unknown category in-process, so the server answers 400 naming
    it; LightGBM and the one-hot pipeline score it (as missing / all zeros), as in-process."""
    server, scorer, _, framework = served
    row = {"age": 40, "income": 55.0, "city": "lima"}
    response = server.post("/predict", json={"instances": [row]})
    if framework == "xgboost":
        assert response.status_code == 400
        assert "'lima' is not a category" in response.json()["error"]["message"]
    else:
        assert response.status_code == 200, response.text
        _close(response.json()["predictions"], scorer(pd.DataFrame([row])))
