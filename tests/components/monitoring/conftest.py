"""A real bundle with a reference profile, and captured requests drawn from known
distributions (fixed seeds), written in the runtime's and SageMaker's formats."""

from __future__ import annotations

import base64
import gzip
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

REF_ROWS = 3000
REF_SEED = 3
"""A seed whose 1000-row KS sample fits its distributions (the test checks it): the
KS tests compare live rows with that one fixed sample, so an atypical sample would
flag unshifted data at the p-value threshold."""
LIVE_ROWS = 2000
LIVE_SEED = 9
"""Live rows from the reference's distributions: with five tests at p < 0.01 about one
seed in twenty flags something by chance (seed 7 does); this one does not."""
COLORS = ["red", "green", "blue"]


def draw(
    rows: int, seed: int, shift_a: float = 0.0, colors: tuple[float, ...] = (0.5, 0.3, 0.2)
) -> pd.DataFrame:
    """a ~ N(shift_a, 1), b ~ N(5, 2), c ~ U(0, 1), color ~ categorical(colors)."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(shift_a, 1, rows),
            "b": rng.normal(5, 2, rows),
            "c": rng.uniform(0, 1, rows),
            "color": rng.choice(COLORS, rows, p=list(colors)),
        }
    )


@dataclass(frozen=True)
class Bundle:
    path: Path
    model: Any


@pytest.fixture(scope="package")
def drift_bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """A scikit-learn pipeline (one-hot color, logistic regression) bundled with a reference."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from inferstack.runtime.bundling import bundle

    x = draw(REF_ROWS, seed=REF_SEED)
    noise = np.random.default_rng(REF_SEED + 100).normal(0, 1, REF_ROWS)
    y = ((x.a + x.b / 5 + (x.color == "red") + noise) > 1.5).astype(int)
    model = make_pipeline(
        ColumnTransformer([("oh", OneHotEncoder(), ["color"])], remainder="passthrough"),
        LogisticRegression(max_iter=500),
    ).fit(x, y)
    out = tmp_path_factory.mktemp("drift") / "bundle"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle(
            model,
            framework="sklearn",
            name="churn",
            version="1.0.0",
            out=out,
            sample=x.head(5),
            reference_data=x,
            output="probabilities",
        )
    return Bundle(out, model)


def records(
    b: Bundle, frame: pd.DataFrame, per_request: int = 50, t0: float = 1.79e9
) -> list[dict[str, Any]]:
    """The runtime's prediction records for ``frame``, ``per_request`` rows each."""
    probs = b.model.predict_proba(frame)
    out = []
    for k, start in enumerate(range(0, len(frame), per_request)):
        part = frame.iloc[start : start + per_request]
        out.append(
            {
                "kind": "prediction",
                "ts": t0 + k,
                "model": "churn",
                "version": "1.0.0",
                "id": f"r{k}",
                "route": "/predict",
                "inputs": part.to_numpy().tolist(),
                "outputs": probs[start : start + per_request].tolist(),
            }
        )
    return out


def jsonl(items: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in items)


def write_folder(folder: Path, items: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for r in items:
        if r.get("kind") == "prediction":
            del r["kind"]  # the local folder's predictions carry no kind
    (folder / "churn-1.0.0-20260101-42.jsonl").write_bytes(jsonl(items))
    return folder


def object_key(prefix: str, seq: int) -> str:
    return f"{prefix}/churn/1.0.0/2026/01/01/10/20260101T100000000000Z-host-42-{seq}.jsonl.gz"


def gzipped(items: list[dict[str, Any]]) -> bytes:
    return gzip.compress(jsonl(items))


def sagemaker_record(
    rows: list[list[Any]], outputs: list[Any], encoding: str = "JSON"
) -> dict[str, Any]:
    """One line of SageMaker's data capture for a JSON request."""
    body = json.dumps({"instances": rows})
    answer = json.dumps({"predictions": outputs})
    if encoding == "BASE64":
        body, answer = (base64.b64encode(s.encode()).decode() for s in (body, answer))
    part = {"observedContentType": "application/json", "encoding": encoding}
    return {
        "captureData": {
            "endpointInput": {**part, "mode": "INPUT", "data": body},
            "endpointOutput": {**part, "mode": "OUTPUT", "data": answer},
        },
        "eventMetadata": {"eventId": "e", "inferenceTime": "2026-01-01T10:00:00Z"},
        "eventVersion": "0",
    }
