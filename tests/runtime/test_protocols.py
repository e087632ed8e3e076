"""Every framework's example bundle, served for real: all protocols agree with the model."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from inferstack.runtime import load_bundle
from tests.runtime.conftest import Built
from tests.runtime.server import RuntimeServer

FRAMEWORKS = ["sklearn", "xgboost", "lightgbm", "onnx", "pytorch", "custom"]


@pytest.fixture(scope="module", params=FRAMEWORKS)
def served(
    request: pytest.FixtureRequest,
    build_example: Callable[[str], Built],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Built, RuntimeServer]]:
    built = build_example(request.param)
    with RuntimeServer(built[0], tmp_path_factory.mktemp("logs")) as server:
        yield request.param, built, server


def _close(got: object, expected: np.ndarray) -> None:
    np.testing.assert_allclose(
        np.asarray(got, dtype=np.float64),
        np.asarray(expected, dtype=np.float64),
        rtol=1e-6,
        atol=1e-7,
    )


def test_predict_matches_in_process_model(served: tuple[str, Built, RuntimeServer]) -> None:
    _, (bundle, scorer, rows), server = served
    x = rows[:7]
    response = server.post("/predict", json={"instances": x.tolist()})
    assert response.status_code == 200, response.text
    _close(response.json()["predictions"], scorer(x))
    _close(response.json()["predictions"], load_bundle(bundle).run(x))


def test_sagemaker_json_and_csv_agree(served: tuple[str, Built, RuntimeServer]) -> None:
    _, (_, scorer, rows), server = served
    x = rows[:5]
    as_list = server.post("/invocations", json=x.tolist())
    assert as_list.status_code == 200, as_list.text
    _close(as_list.json()["predictions"], scorer(x))
    body = "\n".join(",".join(repr(float(v)) for v in row) for row in x.tolist())
    as_csv = server.post(
        "/invocations", content=body, headers={"content-type": "text/csv", "accept": "text/csv"}
    )
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    parsed = [[float(v) for v in line] for line in csv.reader(io.StringIO(as_csv.text))]
    _close(np.asarray(parsed).reshape(np.asarray(scorer(x)).shape), scorer(x))


def test_azure_score_and_named_features(served: tuple[str, Built, RuntimeServer]) -> None:
    _, (bundle, scorer, rows), server = served
    x = rows[:4]
    names = load_bundle(bundle).manifest.input.names
    response = server.post("/score", json={"data": x.tolist()})
    assert response.status_code == 200, response.text
    _close(response.json()["predictions"], scorer(x))
    split = {"input_data": {"columns": names, "data": x.tolist()}}
    _close(server.post("/score", json=split).json()["predictions"], scorer(x))
    by_name = [dict(zip(names, row, strict=True)) for row in x.tolist()]
    _close(server.post("/predict", json={"instances": by_name}).json()["predictions"], scorer(x))


def test_v2_infer_metadata_and_health(served: tuple[str, Built, RuntimeServer]) -> None:
    framework, (bundle, scorer, rows), server = served
    manifest = load_bundle(bundle).manifest
    x = rows[:3]
    datatype = "FP32" if x.dtype == np.float32 else "FP64"
    request = {
        "id": "req-1",
        "inputs": [
            {
                "name": "input-0",
                "shape": list(x.shape),
                "datatype": datatype,
                "data": x.ravel().tolist(),
            }
        ],
    }
    response = server.post(f"/v2/models/{manifest.name}/infer", json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_name"] == manifest.name
    assert body["model_version"] == manifest.version
    assert body["id"] == "req-1"
    out = body["outputs"][0]
    expected = np.asarray(scorer(x))
    assert out["shape"] == list(expected.shape)
    _close(np.asarray(out["data"]).reshape(out["shape"]), expected)
    versioned = server.post(
        f"/v2/models/{manifest.name}/versions/{manifest.version}/infer", json=request
    )
    assert versioned.json()["outputs"] == body["outputs"]
    meta = server.get(f"/v2/models/{manifest.name}").json()
    assert meta["platform"] == framework
    assert meta["versions"] == [manifest.version]
    assert meta["inputs"][0]["shape"] == [-1, manifest.input.width]
    for path in (
        "/ping",
        "/live",
        "/ready",
        "/v2/health/live",
        "/v2/health/ready",
        f"/v2/models/{manifest.name}/ready",
    ):
        assert server.get(path).status_code == 200, path


def test_v2_one_tensor_per_feature(served: tuple[str, Built, RuntimeServer]) -> None:
    _, (bundle, scorer, rows), server = served
    manifest = load_bundle(bundle).manifest
    x = rows[:2]
    datatype = "FP32" if x.dtype == np.float32 else "FP64"
    inputs = [
        {"name": n, "shape": [2], "datatype": datatype, "data": x[:, j].tolist()}
        for j, n in enumerate(manifest.input.names)
    ]
    response = server.post(f"/v2/models/{manifest.name}/infer", json={"inputs": inputs})
    assert response.status_code == 200, response.text
    out = response.json()["outputs"][0]
    _close(np.asarray(out["data"]).reshape(out["shape"]), scorer(x))
