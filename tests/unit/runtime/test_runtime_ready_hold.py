"""A readiness probe that arrives while the model loads waits a little for the load: it
answers 200 the moment the model is ready, 503 when the load takes longer than the hold."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from inferstack.runtime import bundle, handlers
from inferstack.runtime.app import InferenceApp
from inferstack.runtime.settings import RuntimeSettings

PREDICTOR = """\
import time
from pathlib import Path


class Gated:
    def load(self, bundle_dir):
        flag = Path({flag!r})
        while not flag.exists():  # the test says when loading ends
            time.sleep(0.005)

    def predict(self, batch):
        return batch[:, 0]
"""


async def _get(app: InferenceApp, path: str) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app.handle({"type": "http", "method": "GET", "path": path, "headers": []}, receive, send)
    return int(sent[0]["status"])


def test_a_probe_during_the_load_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flag = tmp_path / "loaded"
    (tmp_path / "gated.py").write_text(PREDICTOR.format(flag=str(flag)))
    flag.touch()  # bundle() loads the model once to check it
    gated = bundle(
        f"{tmp_path / 'gated.py'}:Gated",
        framework="custom",
        name="gated",
        version="1.0.0",
        out=tmp_path / "b",
        features=["a", "b"],
    )
    flag.unlink()

    async def scenario() -> None:
        app = InferenceApp(RuntimeSettings(bundle_dir=gated))
        await app.service.start()
        try:
            started = time.perf_counter()
            assert await _get(app, "/ping") == 503  # still loading when the hold ends
            assert time.perf_counter() - started >= handlers.READY_HOLD_S * 0.9
            assert await _get(app, "/live") == 200  # liveness never waits
            monkeypatch.setattr(handlers, "READY_HOLD_S", 30.0)
            probes = [
                asyncio.create_task(_get(app, path))
                for path in ("/ping", "/v2/health/ready", "/v2/models/gated/ready")
            ]
            await asyncio.sleep(0.05)
            assert not any(p.done() for p in probes)  # held, not answered 503
            flag.touch()
            assert await asyncio.gather(*probes) == [200, 200, 200]
            assert await _get(app, "/ping") == 200
        finally:
            await app.service.stop()

    asyncio.run(scenario())
