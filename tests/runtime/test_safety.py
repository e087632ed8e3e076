"""Bad input, auth, size and time limits, unknown routes, and a bundle that fails to load."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from inferstack.runtime import bundle
from tests.runtime.conftest import Built
from tests.runtime.server import RuntimeServer

ROW = [0.5] * 20


def _error(response: object, status: int, code: str, *fragments: str) -> None:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    error = response.json()["error"]  # type: ignore[attr-defined]
    assert error["code"] == code
    for fragment in fragments:
        assert fragment in error["message"], error["message"]


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (b'{"instances": [[1, 2', ("malformed JSON",)),
        (b'{"rows": []}', ("expected one of the keys", "instances")),
        (b'{"instances": []}', ("non-empty list of rows",)),
        (
            b'{"instances": [[1, 2, 3]]}',
            ("instances[0]", "expected a list of 20 values, got 3 values"),
        ),
        (
            b'{"instances": [' + b"[" + b", ".join([b"0.5"] * 19) + b', "high"]]}',
            ("instances[0][19]", "feature 'f19'", "expected number, got str"),
        ),
        (
            b'{"instances": [' + b"[" + b", ".join([b"0.5"] * 19) + b", null]]}",
            ("feature 'f19'", "got null"),
        ),
        (b'{"instances": [' + b"[1e400" + b", 0.5" * 19 + b"]]}", ("malformed JSON", "infinity")),
        (b'{"instances": [{"f0": 1}]}', ("missing feature 'f1'",)),
        (b'{"instances": [{"nope": 1}]}', ("unknown feature 'nope'",)),
        (b'"just a string"', ("expected a JSON object or a list of rows",)),
    ],
)
def test_bad_json_input_is_400_naming_the_problem(
    sklearn_server: RuntimeServer, body: bytes, fragments: tuple[str, ...]
) -> None:
    response = sklearn_server.post(
        "/predict", content=body, headers={"content-type": "application/json"}
    )
    _error(response, 400, "invalid_input", *fragments)


def test_bad_csv_and_v2_input_is_400(sklearn_server: RuntimeServer) -> None:
    csv = ",".join(["0.5"] * 19 + ["nan"])
    _error(
        sklearn_server.post("/invocations", content=csv, headers={"content-type": "text/csv"}),
        400,
        "invalid_input",
        "feature 'f19'",
        "NaN",
    )
    csv = ",".join(["0.5"] * 19 + ["abc"])
    _error(
        sklearn_server.post("/invocations", content=csv, headers={"content-type": "text/csv"}),
        400,
        "invalid_input",
        "'abc' is not a number",
    )
    tensor = {"name": "x", "shape": [1, 20], "datatype": "FP64", "data": ROW[:19]}
    _error(
        sklearn_server.post("/v2/models/logreg-20f/infer", json={"inputs": [tensor]}),
        400,
        "invalid_input",
        "inputs[0].data",
        "do not fill shape [1, 20]",
    )
    tensor = {"name": "x", "shape": [1, 20], "datatype": "FP99", "data": ROW}
    _error(
        sklearn_server.post("/v2/models/logreg-20f/infer", json={"inputs": [tensor]}),
        400,
        "invalid_input",
        "inputs[0].datatype",
    )
    tensor = {"name": "x", "shape": [1, 20], "datatype": "BOOL", "data": [True] * 20}
    _error(
        sklearn_server.post("/v2/models/logreg-20f/infer", json={"inputs": [tensor]}),
        400,
        "invalid_input",
        "expected number",
    )


def test_routes_methods_and_media_types(sklearn_server: RuntimeServer) -> None:
    _error(sklearn_server.get("/nope"), 404, "not_found", "no route /nope")
    _error(
        sklearn_server.post("/v2/models/other/infer", json={}), 404, "not_found", "model 'other'"
    )
    _error(
        sklearn_server.post("/v2/models/logreg-20f/versions/9.9.9/infer", json={}),
        404,
        "not_found",
        "version '9.9.9'",
    )
    _error(sklearn_server.get("/predict"), 405, "method_not_allowed", "use POST")
    _error(
        sklearn_server.post(
            "/invocations", content=b"<x/>", headers={"content-type": "application/xml"}
        ),
        415,
        "unsupported_media_type",
        "application/xml",
    )


def test_api_key_auth(sklearn_bundle: Built, log_dir: Path) -> None:
    key_file = log_dir / "keys"
    key_file.write_text(
        "# ops key, stored hashed\nsha256:" + hashlib.sha256(b"ops-key").hexdigest() + "\n"
    )
    env = {"INFERSTACK_API_KEY": "s3cret", "INFERSTACK_API_KEY_FILE": str(key_file)}
    with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server:
        body = {"instances": [ROW]}
        _error(server.post("/predict", json=body), 401, "unauthorized", "missing API key")
        _error(
            server.post("/predict", json=body, headers={"x-api-key": "wrong"}),
            401,
            "unauthorized",
            "invalid API key",
        )
        _error(
            server.post("/invocations", json=[ROW], headers={"authorization": "Bearer wrong"}),
            401,
            "unauthorized",
        )
        ok = server.post("/predict", json=body, headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert len(ok.json()["predictions"]) == 1
        assert (
            server.post("/predict", json=body, headers={"x-api-key": "s3cret"}).status_code == 200
        )
        assert (
            server.post("/predict", json=body, headers={"x-api-key": "ops-key"}).status_code == 200
        )
        assert server.get("/ping").status_code == 200  # health stays open for load balancers
        _error(server.get("/v2/models/logreg-20f"), 401, "unauthorized")


def test_request_size_limit_is_413(sklearn_bundle: Built, log_dir: Path) -> None:
    with RuntimeServer(
        sklearn_bundle[0], log_dir, env={"INFERSTACK_MAX_REQUEST_BYTES": "2000"}
    ) as server:
        small = server.post("/predict", json={"instances": [ROW]})
        assert small.status_code == 200
        _error(
            server.post("/predict", json={"instances": [ROW] * 50}),
            413,
            "payload_too_large",
            "exceeds the limit of 2000 bytes",
        )

        def chunks():  # no Content-Length: the limit applies while streaming
            for _ in range(10):
                yield b" " * 500

        _error(server.post("/predict", content=chunks()), 413, "payload_too_large", "2000 bytes")


SLOW = """
import time
import numpy as np

class Slow:
    def predict(self, x):
        if (x[:, 1] == 13).any():
            raise ValueError("unlucky row")
        time.sleep(float(x[0, 0]))
        return x.sum(axis=1)
"""


def test_request_timeout_is_504_and_a_model_error_500(tmp_path: Path, log_dir: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    path = bundle(
        f"{tmp_path / 'slow.py'}:Slow",
        framework="custom",
        name="slow",
        version="0.1.0",
        out=tmp_path / "b",
        features=["delay", "x"],
    )
    with RuntimeServer(path, log_dir, env={"INFERSTACK_REQUEST_TIMEOUT_S": "0.3"}) as server:
        assert server.post("/predict", json={"instances": [[0.0, 2.0]]}).json()["predictions"] == [
            2.0
        ]
        _error(server.post("/predict", json={"instances": [[1.0, 2.0]]}), 504, "timeout", "0.3 s")
        time.sleep(1.0)  # the timed-out call still holds the model thread for its 1 s
        _error(
            server.post("/predict", json={"instances": [[0.0, 13.0]]}),
            500,
            "prediction_failed",
            "the model raised ValueError: unlucky row",
        )
        assert server.post("/predict", json={"instances": [[0.0, 1.0]]}).status_code == 200


def test_bundle_that_fails_to_load_stays_unready(
    sklearn_bundle: Built, tmp_path: Path, log_dir: Path
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "inferstack.yaml").write_text((sklearn_bundle[0] / "inferstack.yaml").read_text())
    (broken / "model.joblib").write_bytes(b"not a pickle")
    server = RuntimeServer(broken, log_dir).start(wait_ready=False)
    try:
        assert server.get("/v2/health/live").status_code == 200
        _error(server.get("/ping"), 503, "not_ready", "failed to load")
        _error(server.get("/v2/health/ready"), 503, "not_ready")
        _error(server.post("/predict", json={"instances": [ROW]}), 503, "not_ready")
        assert "model failed to load" in server.logs()
    finally:
        assert server.stop() == 0
