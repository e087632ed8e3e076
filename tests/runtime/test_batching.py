"""Concurrent requests are batched; a bad row fails only its own request."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from inferstack.runtime import EchoModel, bundle
from tests.runtime.server import RuntimeServer, metric_value


@pytest.fixture(scope="module")
def echo_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bundle(
        EchoModel,
        framework="custom",
        name="echo",
        version="1.0.0",
        out=tmp_path_factory.mktemp("echo") / "bundle",
        features=["a", "b", "c"],
    )


async def _fire(url: str, bodies: list[dict[str, object]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        return await asyncio.gather(*(client.post("/predict", json=b) for b in bodies))


def test_concurrent_requests_form_batches_and_a_bad_row_fails_alone(
    echo_bundle: Path, log_dir: Path
) -> None:
    env = {"INFERSTACK_MAX_BATCH_WAIT_MS": "50", "INFERSTACK_MAX_BATCH_SIZE": "64"}
    with RuntimeServer(echo_bundle, log_dir, env=env) as server:
        bodies = [{"instances": [[float(i if i % 10 else -1), 1.0, 2.0]]} for i in range(1, 121)]
        responses = asyncio.run(_fire(server.url, bodies))
        for i, response in zip(range(1, 121), responses, strict=True):
            if i % 10 == 0:
                assert response.status_code == 400, response.text
                assert "negative first value" in response.json()["error"]["message"]
            else:
                assert response.status_code == 200, response.text
                assert response.json()["predictions"] == [i + 3.0]
        metrics = server.get("/metrics").text
        labels = {"model": "echo", "version": "1.0.0"}
        batches = metric_value(metrics, "inferstack_batch_size_count", **labels)
        singles = metric_value(metrics, "inferstack_batch_size_bucket", le="1.0", **labels)
        rows = metric_value(metrics, "inferstack_batch_size_sum", **labels)
        assert batches > singles, "no batch held more than one row"
        # merged batches that failed were retried request by request, so rows > requests
        assert rows >= 120
        assert (
            metric_value(metrics, "inferstack_requests_total", route="/predict", code="400") == 12
        )
        assert (
            metric_value(metrics, "inferstack_requests_total", route="/predict", code="200") == 108
        )
