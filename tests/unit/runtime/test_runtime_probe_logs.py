"""Readiness probes while the model loads: they wait a little for the load (200 the moment
the model is ready, 503 when the load takes longer than the hold), and their 503s are not
logged as errors, while a failed load's are."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from inferstack.runtime import bundle, handlers
from inferstack.runtime.app import InferenceApp
from inferstack.runtime.settings import RuntimeSettings

BUNDLE = Path(__file__).resolve().parents[3] / "examples" / "logreg-20f" / "bundle"
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


def _get_now(app: InferenceApp, path: str) -> int:
    return asyncio.run(_get(app, path))


def test_probes_while_loading_are_not_logged_but_a_failed_load_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = InferenceApp(RuntimeSettings(bundle_dir=BUNDLE))  # not started: still loading
    with caplog.at_level(logging.INFO, logger="inferstack.runtime"):
        assert _get_now(app, "/ping") == 503
        assert _get_now(app, "/v2/health/ready") == 503
        assert not [r for r in caplog.records if r.getMessage() == "request"]
        assert _get_now(app, "/predict") == 405  # other routes are logged as before
        assert len([r for r in caplog.records if r.getMessage() == "request"]) == 1
        app.service.load_error = "the artifact is broken"
        assert _get_now(app, "/ping") == 503
    logged = [r for r in caplog.records if r.getMessage() == "request"]
    assert len(logged) == 2
    assert logged[-1].levelno == logging.ERROR


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
            inference = asyncio.create_task(app.service.loaded())  # a model route's wait
            await asyncio.sleep(0.05)
            assert not any(p.done() for p in probes)  # held, not answered 503
            assert not inference.done()
            flag.touch()
            assert await asyncio.gather(*probes) == [200, 200, 200]
            assert await inference == (app.service.batcher, app.service.model)
            assert await _get(app, "/ping") == 200
        finally:
            await app.service.stop()

    asyncio.run(scenario())
