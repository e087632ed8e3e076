"""Triton's own HTTP client against real servers: the V2 binary tensor data extension.

Models with FP64, FP32, INT64, BOOL and BYTES inputs (a string-feature DataFrame
pipeline, whose output is a BYTES label) are trained here, bundled and served on
127.0.0.1; ``tritonclient.http`` sends their inputs as binary data and as JSON and
asks for binary and JSON outputs, and every answer equals the model called in process.
Malformed binary bodies sent by hand are 400s naming the problem, and the server
stays up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest

from inferstack.runtime import bundle
from tests.runtime.server import RuntimeServer

httpclient = pytest.importorskip("tritonclient.http")

Case = tuple[RuntimeServer, str, str, list[tuple[str, np.ndarray]], np.ndarray]
RNG = np.random.default_rng(11)


def _numeric(dtype: str) -> tuple[Any, dict[str, Any], np.ndarray]:
    from sklearn.linear_model import LogisticRegression

    if dtype == "int64":
        x = RNG.integers(-5, 6, size=(300, 4)).astype(np.int64)
    elif dtype == "bool":
        x = RNG.integers(0, 2, size=(300, 4)).astype(bool)
    else:
        x = RNG.normal(size=(300, 4)).astype(dtype)
    y = (x[:, 0].astype(float) + x[:, 1].astype(float) > 0.5).astype(int)
    model = LogisticRegression().fit(x, y)
    features = [{"name": f"f{i}", "dtype": dtype} for i in range(4)]
    return model, {"features": features}, x[:9]


def _frame() -> tuple[Any, dict[str, Any], pd.DataFrame]:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    n = 200
    df = pd.DataFrame(
        {
            "age": RNG.integers(18, 80, n),
            "income": np.round(RNG.normal(50.0, 12.0, n), 3),
            "city": RNG.choice(["oslo", "paris", "rome", "são paulo"], n),
        }
    )
    y = np.where((df["income"] > 50) ^ (df["city"] == "rome"), "yes", "no")
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("num", StandardScaler(), ["age", "income"]),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(df, y)
    return model, {"output": "label"}, df.head(9)


KINDS = ["float64", "float32", "int64", "bool", "frame"]
V2_OF = {"float64": "FP64", "float32": "FP32", "int64": "INT64", "bool": "BOOL"}


@pytest.fixture(scope="module", params=KINDS)
def case(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Case]:
    kind = request.param
    out = tmp_path_factory.mktemp("v2bin") / kind
    tensors: list[tuple[str, np.ndarray]]
    if kind == "frame":
        model, options, df = _frame()
        expected = np.asarray(model.predict(df))
        tensors = [
            ("age", df["age"].to_numpy(np.int64)),
            ("income", df["income"].to_numpy(np.float64)),
            ("city", df["city"].to_numpy(object)),
        ]
    else:
        model, options, x = _numeric(kind)
        expected = model.predict_proba(x)
        tensors = [("input-0", x)]
    bundle(model, framework="sklearn", name=f"m-{kind}", version="1.0.0", out=out, **options)
    with RuntimeServer(out, tmp_path_factory.mktemp("logs")) as server:
        output = server.get(f"/v2/models/m-{kind}").json()["outputs"][0]["name"]
        yield server, f"m-{kind}", output, tensors, expected


def _client(server: RuntimeServer) -> Any:
    return httpclient.InferenceServerClient(url=server.url.removeprefix("http://"))


def _inputs(tensors: list[tuple[str, np.ndarray]], binary: bool) -> list[Any]:
    inputs = []
    for name, arr in tensors:
        datatype = "BYTES" if arr.dtype == object else V2_OF[str(arr.dtype)]
        tensor = httpclient.InferInput(name, list(arr.shape), datatype)
        tensor.set_data_from_numpy(arr, binary_data=binary)
        inputs.append(tensor)
    return inputs


def _same(got: np.ndarray, expected: np.ndarray) -> None:
    if expected.dtype.kind in "OU":
        assert [v.decode() if isinstance(v, bytes) else v for v in got.tolist()] == list(expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("binary_in", [True, False], ids=["bin-in", "json-in"])
@pytest.mark.parametrize("binary_out", [True, False, None], ids=["bin-out", "json-out", "default"])
def test_triton_client_matches_model(case: Case, binary_in: bool, binary_out: bool | None) -> None:
    server, model, output, tensors, expected = case
    # no outputs named: the client sets binary_data_output, so the answer is binary
    outputs = None if binary_out is None else [httpclient.InferRequestedOutput(output, binary_out)]
    result = _client(server).infer(
        model, _inputs(tensors, binary_in), outputs=outputs, request_id="r-7"
    )
    _same(result.as_numpy(output), expected)
    answer = result.get_response()
    assert answer["id"] == "r-7"
    binary = binary_out is not False
    assert ("parameters" in answer["outputs"][0]) is binary
    assert ("data" in answer["outputs"][0]) is not binary


def test_server_metadata_names_the_binary_extension(case: Case) -> None:
    server, model, _, _, _ = case
    if model != "m-float64":
        pytest.skip("the server's metadata: once")
    metadata = _client(server).get_server_metadata()
    assert metadata["name"] == "inferstack"
    assert metadata["extensions"] == ["binary_tensor_data"]


def test_mixed_binary_and_json_inputs(case: Case) -> None:
    server, model, output, tensors, expected = case
    if len(tensors) == 1:
        pytest.skip("one tensor")
    inputs = [
        *_inputs(tensors[:1], True),
        *_inputs(tensors[1:2], False),
        *_inputs(tensors[2:], True),
    ]
    result = _client(server).infer(model, inputs)
    _same(result.as_numpy(output), expected)


def test_raw_binary_response_headers(case: Case) -> None:
    server, model, _, tensors, expected = case
    if len(tensors) != 1:
        pytest.skip("one tensor")
    name, arr = tensors[0]
    raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": name,
                    "shape": list(arr.shape),
                    "datatype": V2_OF[str(arr.dtype)],
                    "parameters": {"binary_data_size": len(raw)},
                }
            ],
            "parameters": {"binary_data_output": True},
        }
    )
    response = server.post(
        f"/v2/models/{model}/infer",
        content=header + raw,
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/octet-stream"
    size = int(response.headers["inference-header-content-length"])
    meta = orjson.loads(response.content[:size])["outputs"][0]
    assert meta["parameters"]["binary_data_size"] == len(response.content) - size
    wire = {"FP64": "<f8", "FP32": "<f4"}[meta["datatype"]]
    got = np.frombuffer(response.content[size:], dtype=wire)
    _same(got.reshape(meta["shape"]), expected)


BAD: list[tuple[str, Callable[[bytes, bytes], tuple[bytes, dict[str, str]]], str]] = [
    (
        "sizes short",
        lambda h, r: (h + r[:-8], {"Inference-Header-Content-Length": str(len(h))}),
        "run past",
    ),
    (
        "sizes long",
        lambda h, r: (h + r + b"\x00" * 8, {"Inference-Header-Content-Length": str(len(h))}),
        "add up to",
    ),
    (
        "header past body",
        lambda h, r: (h + r, {"Inference-Header-Content-Length": str(len(h + r) + 1)}),
        "but the body has only",
    ),
    (
        "negative header",
        lambda h, r: (h + r, {"Inference-Header-Content-Length": "-4"}),
        "non-negative integer",
    ),
    ("no header", lambda h, r: (h + r, {}), "needs the Inference-Header-Content-Length header"),
    (
        "gzip",
        lambda h, r: (
            h + r,
            {"Inference-Header-Content-Length": str(len(h)), "Content-Encoding": "gzip"},
        ),
        "Content-Encoding",
    ),
]


@pytest.mark.parametrize(("label", "make", "message"), BAD, ids=[b[0] for b in BAD])
def test_malformed_binary_requests_are_400(
    sklearn_server: RuntimeServer, label: str, make: Any, message: str
) -> None:
    raw = np.zeros((2, 20), dtype="<f8").tobytes()
    header = orjson.dumps(
        {
            "inputs": [
                {
                    "name": "x",
                    "shape": [2, 20],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": len(raw)},
                }
            ]
        }
    )
    body, headers = make(header, raw)
    response = sklearn_server.post("/v2/models/logreg-20f/infer", content=body, headers=headers)
    assert response.status_code in (400, 415), response.text
    assert message in response.json()["error"]["message"]
    assert sklearn_server.get("/v2/health/ready").status_code == 200


def test_bytes_element_past_the_end_is_400(case: Case) -> None:
    server, model, _, tensors, _ = case
    if len(tensors) == 1:
        pytest.skip("no BYTES tensor")
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "age", "shape": [1], "datatype": "INT64", "data": [30]},
                {"name": "income", "shape": [1], "datatype": "FP64", "data": [1.5]},
                {
                    "name": "city",
                    "shape": [1],
                    "datatype": "BYTES",
                    "parameters": {"binary_data_size": 6},
                },
            ]
        }
    )
    response = httpx.post(
        f"{server.url}/v2/models/{model}/infer",
        content=header + b"\x09\x00\x00\x00ab",
        headers={"Inference-Header-Content-Length": str(len(header))},
    )
    assert response.status_code == 400
    assert "inputs[2]: BYTES element 0 of 1 has length 9" in response.json()["error"]["message"]
