"""Anomalous inputs on a real server: the metrics equal counts made by hand; capture flags."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from inferstack.runtime import bundle
from tests.runtime.server import RuntimeServer, metric_value

MV = {"model": "mixed", "version": "1.0.0"}


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x0": rng.normal(0, 1, n),
            "x1": rng.uniform(10, 20, n),
            "color": rng.choice(["red", "green", "blue"], n),
        }
    )


@pytest.fixture(scope="module")
def mixed_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    df = _frame(400, 0)
    y = (df["x0"] + (df["color"] == "red")) > 0.5
    model = make_pipeline(
        ColumnTransformer(
            [("cat", OneHotEncoder(handle_unknown="ignore"), ["color"])], remainder="passthrough"
        ),
        LogisticRegression(),
    ).fit(df, y)
    out = tmp_path_factory.mktemp("anomaly") / "mixed"
    bundle(
        model,
        framework="sklearn",
        name="mixed",
        version="1.0.0",
        out=out,
        sample=df,
        reference_data=df,
        output="probabilities",
        allow_pickle=True,
    )
    return out, df


def test_rows_outside_the_reference_move_the_metrics_as_counted_by_hand(
    mixed_bundle: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    path, ref = mixed_bundle
    lo = {c: ref[c].min() for c in ("x0", "x1")}
    hi = {c: ref[c].max() for c in ("x0", "x1")}
    known = set(ref["color"])
    requests = [
        [[0.0, 15.0, "red"], [0.1, 12.0, "blue"]],  # all inside
        [[hi["x0"] + 1, 15.0, "purple"], [0.0, lo["x1"] - 5, "red"], [0.0, 15.0, "pink"]],
        [[lo["x0"], hi["x1"], "green"]],  # the range's ends are inside
    ]
    out_x0 = sum(r[0] > hi["x0"] or r[0] < lo["x0"] for q in requests for r in q)
    out_x1 = sum(r[1] > hi["x1"] or r[1] < lo["x1"] for q in requests for r in q)
    unseen = sum(r[2] not in known for q in requests for r in q)
    rows = sum(len(q) for q in requests)
    assert (out_x0, out_x1, unseen, rows) == (1, 1, 2, 6)
    capture = tmp_path / "capture"
    env = {"INFERSTACK_CAPTURE_DIR": str(capture), "INFERSTACK_CAPTURE_SAMPLE_RATE": "1"}
    with RuntimeServer(path, tmp_path, env=env) as server:
        for q in requests:
            assert server.post("/predict", json={"instances": q}).status_code == 200
        text = server.get("/metrics").text
    value = lambda name, **kw: metric_value(text, name, **MV, **kw)  # noqa: E731
    assert value("inferstack_anomaly_checked_values_total", check="range") == 2 * rows
    assert value("inferstack_anomaly_checked_values_total", check="category") == rows
    assert value("inferstack_anomalous_values_total", feature="x0", check="range") == out_x0
    assert value("inferstack_anomalous_values_total", feature="x1", check="range") == out_x1
    assert value("inferstack_anomalous_values_total", feature="color", check="category") == unseen
    assert value("inferstack_anomaly_checked_requests_total") == 3
    assert value("inferstack_anomalous_requests_total") == 1

    records = [
        json.loads(line)
        for f in sorted(capture.glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    flags = {r["inputs"][0][2]: r["anomalies"] for r in records}
    assert flags["red"] == {
        "anomalous": False,
        "share": 0.0,
        "out_of_range": {},
        "unseen_categories": {},
    }
    assert flags["purple"]["anomalous"] is True
    assert flags["purple"]["share"] == pytest.approx(4 / 9)
    assert flags["purple"]["out_of_range"] == {"x0": 1, "x1": 1}
    assert flags["purple"]["unseen_categories"] == {"color": 2}
