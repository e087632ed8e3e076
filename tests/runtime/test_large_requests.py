"""Large requests: cut into batch-sized model calls, a rows limit, decoded off the event loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson

from tests.runtime.conftest import Built
from tests.runtime.server import RuntimeServer, metric_value

MV = {"model": "logreg-20f", "version": "1.0.0"}


def test_oversized_request_runs_as_batch_sized_calls_in_order(
    sklearn_bundle: Built, log_dir: Path
) -> None:
    path, predict, _ = sklearn_bundle
    rng = np.random.default_rng(7)
    rows = rng.normal(size=(1000, 20))
    env = {
        "INFERSTACK_MAX_BATCH_SIZE": "100",
        "INFERSTACK_MAX_REQUEST_ROWS": "1000",
        "INFERSTACK_OFFLOAD_BYTES": "1024",  # this body takes the thread path
    }
    with RuntimeServer(path, log_dir, env=env) as server:
        body = orjson.dumps({"instances": rows}, option=orjson.OPT_SERIALIZE_NUMPY)
        response = server.post(
            "/predict", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 200, response.text
        np.testing.assert_allclose(response.json()["predictions"], predict(rows))
        csv = "\n".join(",".join(repr(float(v)) for v in row) for row in rows[:300])
        answer = server.post(
            "/invocations",
            content=csv,
            headers={"content-type": "text/csv", "accept": "text/csv"},
        )
        assert answer.status_code == 200, answer.text
        got = [[float(v) for v in line.split(",")] for line in answer.text.splitlines()]
        np.testing.assert_allclose(got, predict(rows[:300]))
        metrics = server.get("/metrics").text
    calls = metric_value(metrics, "inferstack_batch_size_count", **MV)
    at_most_128 = metric_value(metrics, "inferstack_batch_size_bucket", le="128.0", **MV)
    assert calls >= 13, f"{calls} model calls for 1,300 rows in batches of 100"
    assert at_most_128 == calls, "a model call took more than the batch size"


def test_more_rows_than_the_limit_is_413_naming_it(sklearn_bundle: Built, log_dir: Path) -> None:
    env = {"INFERSTACK_MAX_REQUEST_ROWS": "500"}
    with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server:
        response = server.post("/predict", json={"instances": [[0.5] * 20] * 501})
        ok = server.post("/predict", json={"instances": [[0.5] * 20] * 500})
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert "501 rows" in error["message"]
    assert "500 rows per request" in error["message"]
    assert "INFERSTACK_MAX_REQUEST_ROWS" in error["message"]
    assert ok.status_code == 200, ok.text
