"""Models as people train them, bundled and built from the CLI, served by their images.

A scikit-learn ColumnTransformer pipeline, XGBoost and LightGBM models on DataFrames
with a `category` column, and a custom predictor importing pandas and a helper module,
each trained here, bundled with `inferstack bundle` (`--sample data.csv`, or
`--features`, `--files` and `--requirements`), built with `inferstack build` (which
starts the image and probes it) on the real engine, then called on every route. Each
image carries only its own framework (the custom one gets pandas from the bundle's
requirements), answers equal the model called in process, and the container's log
holds JSON lines only.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from inferstack.runtime.manifest import read_manifest
from tests.container.conftest import API_KEY, Running, docker, remove_container, start_container

AUTH = {"X-Api-Key": API_KEY}
INFERSTACK = [sys.executable, "-m", "inferstack.components.cli"]
FRAMEWORKS = ("sklearn", "xgboost", "lightgbm", "custom")
# The framework modules each image must (not) carry: the image installs one framework.
CARRIES = {
    "sklearn": ("sklearn", "xgboost"),
    "xgboost": ("xgboost", "sklearn"),
    "lightgbm": ("lightgbm", "xgboost"),
    "custom": ("pandas", "sklearn"),
}

Scorer = Callable[[pd.DataFrame], np.ndarray]

HELPER = """
def score(frame):
    return (frame["income"] * 0.5 + frame["age"] + frame["city"].str.len()).to_numpy(float)
"""
PREDICTOR = """
import pandas as pd
from frame_features import score


class FrameScorer:
    def predict(self, batch):
        frame = pd.DataFrame(list(batch), columns=["age", "income", "city"])
        return score(frame.astype({"age": "int64", "income": "float64"}))
"""


@dataclass
class Served:
    """One framework's image, a running container of it, and its model in process."""

    framework: str
    name: str
    image: str
    running: Running
    scorer: Scorer


def inferstack(*args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The `inferstack` command of this environment."""
    return subprocess.run(
        [*INFERSTACK, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False
    )


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


def _categorical(df: pd.DataFrame, categories: Any) -> pd.DataFrame:
    return df.assign(city=pd.Categorical(df["city"], categories=categories))


def _sklearn(df: pd.DataFrame, y: np.ndarray, work: Path) -> tuple[list[str | Path], Scorer]:
    import skops.io as sio
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
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(df, y)
    # skops, not a pickle: loading it runs no code the file holds.
    sio.dump(model, work / "model.skops")
    args: list[str | Path] = [work / "model.skops", "--sample", work / "data.csv"]
    untrusted = sio.get_untrusted_types(file=work / "model.skops")
    if untrusted:
        args += ["--skops-trust", ",".join(untrusted)]
    return args, model.predict_proba


def _xgboost(df: pd.DataFrame, y: np.ndarray, work: Path) -> tuple[list[str | Path], Scorer]:
    import xgboost as xgb

    frame = df.astype({"city": "category"})
    model = xgb.XGBClassifier(n_estimators=10, max_depth=3, enable_categorical=True)
    model.fit(frame, y)
    model.save_model(work / "model.json")
    cats = frame["city"].cat.categories
    return [work / "model.json", "--sample", work / "data.csv"], lambda rows: model.predict_proba(
        _categorical(rows, cats)
    )


def _lightgbm(df: pd.DataFrame, y: np.ndarray, work: Path) -> tuple[list[str | Path], Scorer]:
    import lightgbm as lgb

    frame = df.astype({"city": "category"})
    model = lgb.LGBMClassifier(n_estimators=10, min_child_samples=5, verbose=-1).fit(frame, y)
    model.booster_.save_model(work / "model.txt")
    cats = frame["city"].cat.categories
    return [work / "model.txt", "--sample", work / "data.csv"], lambda rows: model.predict_proba(
        _categorical(rows, cats)
    )


def _custom(df: pd.DataFrame, y: np.ndarray, work: Path) -> tuple[list[str | Path], Scorer]:
    (work / "frame_features.py").write_text(HELPER)
    (work / "frame_predictor.py").write_text(PREDICTOR)
    (work / "requirements.txt").write_text("pandas>=2.2\n")
    sys.path.insert(0, str(work))
    try:
        path = work / "frame_predictor.py"
        spec = importlib.util.spec_from_file_location("frame_predictor", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(work))
    predictor = module.FrameScorer()
    args: list[str | Path] = [
        f"{work / 'frame_predictor.py'}:FrameScorer",
        "--features",
        "age:int64,income:float64,city:string",
        "--files",
        work / "frame_features.py",
        "--requirements",
        work / "requirements.txt",
    ]
    return args, lambda rows: predictor.predict(np.asarray(_rows(rows), dtype=object))


TRAIN = {"sklearn": _sklearn, "xgboost": _xgboost, "lightgbm": _lightgbm, "custom": _custom}


def _rows(df: pd.DataFrame) -> list[list[Any]]:
    return [[int(a), float(i), str(c)] for a, i, c in df.itertuples(index=False)]


def _close(got: Any, expected: np.ndarray) -> None:
    got = np.asarray(got, dtype=np.float64).reshape(np.shape(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


def _json_lines(text: str) -> list[str]:
    """The lines of `text` that are not JSON objects."""
    bad = []
    for line in text.splitlines():
        try:
            if not isinstance(json.loads(line), dict):
                bad.append(line)
        except ValueError:
            bad.append(line)
    return bad


@pytest.fixture(scope="module", params=FRAMEWORKS)
def served(
    request: pytest.FixtureRequest, base_image: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """Train, `inferstack bundle`, `inferstack build` (verified), start: one per framework."""
    framework: str = request.param
    work = tmp_path_factory.mktemp(f"{framework}-model")
    df, y = _data()
    df.head(50).to_csv(work / "data.csv", index=False)
    args, scorer = TRAIN[framework](df, y, work)
    name = f"{framework}-frame"
    bundled = inferstack(
        "bundle",
        *args,
        "--framework",
        framework,
        "--name",
        name,
        "--version",
        "1.0.0",
        "--out",
        work / "bundle",
    )
    assert bundled.returncode == 0, bundled.stderr
    (work / "bundle").chmod(0o755)
    built = inferstack(
        "build",
        work / "bundle",
        "--base-image",
        base_image,
        "--network",
        "host",
        timeout=1800,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert "verified" in built.stderr, built.stderr
    image = built.stdout.strip().splitlines()[-1]
    running = start_container(image)
    yield Served(framework, name, image, running, scorer)
    logs = docker("logs", running.id, check=False)
    remove_container(running)
    bad = _json_lines(logs.stdout + logs.stderr)
    assert not bad, f"{framework}: the container's log has lines that are not JSON: {bad[:5]}"


@pytest.fixture(scope="module")
def rows() -> pd.DataFrame:
    """Held-out rows in the training data's shape (a city with a comma included)."""
    df, _ = _data(240)
    return df.tail(7).reset_index(drop=True)


def test_the_image_carries_its_own_framework_only(served: Served) -> None:
    wanted, absent = CARRIES[served.framework]
    script = (
        "import importlib.util, sys; "
        f"sys.exit(0 if importlib.util.find_spec({wanted!r}) "
        f"and not importlib.util.find_spec({absent!r}) else 1)"
    )
    found = docker("run", "--rm", "--network", "host", served.image, "python", "-c", script)
    assert found.returncode == 0, found.stderr


def test_invocations_json_rows_and_records(served: Served, rows: pd.DataFrame) -> None:
    expected = served.scorer(rows)
    for body in ({"instances": _rows(rows)}, {"instances": rows.to_dict("records")}):
        response = served.running.client.post("/invocations", json=body, headers=AUTH)
        assert response.status_code == 200, response.text
        _close(response.json()["predictions"], expected)


def test_invocations_csv(served: Served, rows: pd.DataFrame) -> None:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows(_rows(rows))  # quotes "san jose, ca"
    response = served.running.client.post(
        "/invocations", content=text.getvalue(), headers={**AUTH, "Content-Type": "text/csv"}
    )
    assert response.status_code == 200, response.text
    _close(response.json()["predictions"], served.scorer(rows))


def test_v2_infer_one_tensor_per_feature(served: Served, rows: pd.DataFrame) -> None:
    n = len(rows)
    body = {
        "id": "c-1",
        "inputs": [
            {"name": "age", "shape": [n], "datatype": "INT64", "data": rows["age"].tolist()},
            {"name": "income", "shape": [n], "datatype": "FP64", "data": rows["income"].tolist()},
            {"name": "city", "shape": [n], "datatype": "BYTES", "data": rows["city"].tolist()},
        ],
    }
    response = served.running.client.post(
        f"/v2/models/{served.name}/infer", json=body, headers=AUTH
    )
    assert response.status_code == 200, response.text
    out = response.json()["outputs"][0]
    assert out["shape"][0] == n
    _close(out["data"], served.scorer(rows))


def test_predict_records(served: Served, rows: pd.DataFrame) -> None:
    response = served.running.client.post(
        "/predict", json={"instances": rows.to_dict("records")}, headers=AUTH
    )
    assert response.status_code == 200, response.text
    _close(response.json()["predictions"], served.scorer(rows))


def test_the_bundle_records_what_the_image_installed(served: Served, tmp_path: Path) -> None:
    """The image's bundle is the one the CLI wrote, requirements included."""
    copied = docker("create", served.image)
    try:
        docker("cp", f"{copied.stdout.strip()}:/opt/ml/model/inferstack.yaml", str(tmp_path))
    finally:
        docker("rm", copied.stdout.strip(), check=False)
    manifest = read_manifest(tmp_path)
    assert manifest.name == served.name
    assert manifest.framework == served.framework
    if served.framework == "custom":
        assert manifest.requirements == ("pandas>=2.2",)
    else:
        assert manifest.input.frame is True
        assert manifest.input.names == ["age", "income", "city"]
