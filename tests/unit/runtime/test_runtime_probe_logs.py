"""Readiness polled while the model loads answers 503 without an error log line each time."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest

from inferstack.runtime.app import InferenceApp
from inferstack.runtime.settings import RuntimeSettings

BUNDLE = Path(__file__).resolve().parents[3] / "examples" / "logreg-20f" / "bundle"


def _get(app: InferenceApp, path: str) -> int:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    asyncio.run(app.handle(scope, receive, send))
    return int(sent[0]["status"])


def test_probes_while_loading_are_not_logged_but_a_failed_load_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = InferenceApp(RuntimeSettings(bundle_dir=BUNDLE))  # not started: still loading
    with caplog.at_level(logging.INFO, logger="inferstack.runtime"):
        assert _get(app, "/ping") == 503
        assert _get(app, "/v2/health/ready") == 503
        assert not [r for r in caplog.records if r.getMessage() == "request"]
        assert _get(app, "/predict") == 405  # other routes are logged as before
        assert len([r for r in caplog.records if r.getMessage() == "request"]) == 1
        app.service.load_error = "the artifact is broken"
        assert _get(app, "/ping") == 503
    logged = [r for r in caplog.records if r.getMessage() == "request"]
    assert len(logged) == 2
    assert logged[-1].levelno == logging.ERROR
