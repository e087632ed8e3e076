"""What the server imports before it can answer its readiness route, and the GC hold.

The cold start (process start to the first 200 on ``/ping``) pays for every module the
serve path imports before the model is ready; modules of routes and features that
load later are imported where they are first used. These tests fail when one of them
comes back onto that path, without timing anything.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from inferstack.runtime.app import InferenceApp
from inferstack.runtime.gc_hold import full_collections_held
from inferstack.runtime.settings import RuntimeSettings

BUNDLE = Path(__file__).resolve().parents[3] / "examples" / "logreg-20f" / "bundle"

# Not needed to answer /ping: each is imported by the route or feature that uses it.
LAZY = (
    "inferstack.runtime.explain",
    "inferstack.runtime.explain_service",
    "inferstack.runtime.feedback",
    "inferstack.runtime.feedback_quality",
    "inferstack.runtime.capture",
    "inferstack.runtime.capture_sinks",
    "inferstack.runtime.emf",
    "inferstack.runtime.openapi",
    "inferstack.runtime.monitoring",
    "inferstack.runtime.drift_monitor",
    "inferstack.runtime.anomalies",
    "inferstack.runtime.grpc_server",
    "inferstack.runtime.bundling",
    "inferstack.components",
    "shap",
    "typer",
    "rich",
    "sklearn",
    "skops",
)

# The serve path up to listening: the entry point's imports, settings, the app for the
# bundle (manifest read, start checks), the uvicorn config; no model load.
_SERVE_PATH = """
import json, sys
import inferstack.runtime.__main__
from inferstack.runtime.server import _config
from inferstack.runtime.app import create_app
from inferstack.runtime.settings import RuntimeSettings

settings = RuntimeSettings(bundle_dir=sys.argv[1])
_config(settings, create_app(settings), 1)
print(json.dumps(sorted(sys.modules)))
"""


def _modules_before_ready() -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", _SERVE_PATH, str(BUNDLE)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(out.stdout))


def test_serve_path_leaves_later_routes_and_features_unimported() -> None:
    loaded = _modules_before_ready()
    assert "inferstack.runtime.handlers" in loaded  # the path really was imported
    assert "inferstack.runtime.service" in loaded
    early = sorted(m for m in LAZY if m in loaded or any(n.startswith(m + ".") for n in loaded))
    assert early == [], f"imported before the server can answer /ping: {early}"


def test_full_collections_are_held_while_loading_and_restored_after() -> None:
    before = gc.get_threshold()
    with full_collections_held():
        held = gc.get_threshold()
        assert held[:2] == before[:2]  # young generations still collected
        assert held[2] > 1_000_000
        with full_collections_held():  # nested (two apps loading in one process)
            pass
        assert gc.get_threshold() == held
    assert gc.get_threshold() == before


def test_hold_is_released_when_the_load_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError, match="the load failed"), full_collections_held():
        raise RuntimeError("the load failed")
    assert gc.get_threshold() == before


def test_a_real_load_holds_full_collections_until_ready_then_restores_them() -> None:
    before = gc.get_threshold()
    app = InferenceApp(RuntimeSettings(bundle_dir=BUNDLE))
    seen: dict[str, object] = {}

    async def run() -> None:
        messages: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        await messages.put({"type": "lifespan.startup"})
        sent: list[dict[str, object]] = []

        async def send(message: dict[str, object]) -> None:
            sent.append(message)

        task = asyncio.create_task(app({"type": "lifespan"}, messages.get, send))
        while not sent:
            await asyncio.sleep(0)
        await asyncio.sleep(0)  # the load task has begun
        seen["loading"] = gc.get_threshold()
        while not app.service.ready:
            await asyncio.sleep(0.01)
        seen["ready"] = gc.get_threshold()
        await messages.put({"type": "lifespan.shutdown"})
        await task

    try:
        asyncio.run(run())
    finally:
        gc.unfreeze()  # the service froze this test process's objects
    loading = seen["loading"]
    assert isinstance(loading, tuple)
    assert loading[2] > 1_000_000
    assert seen["ready"] == before
