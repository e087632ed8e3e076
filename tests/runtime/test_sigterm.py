"""SIGTERM under load: stop accepting, answer every accepted request, exit 0."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import httpx

from inferstack.runtime import bundle
from tests.runtime.server import RuntimeServer, metric_value

NAP = """
import time

class Nap:
    def predict(self, x):
        time.sleep(0.25)
        return x.sum(axis=1)
"""


def test_sigterm_drains_in_flight_requests(tmp_path: Path, log_dir: Path) -> None:
    (tmp_path / "nap.py").write_text(NAP)
    path = bundle(
        f"{tmp_path / 'nap.py'}:Nap",
        framework="custom",
        name="nap",
        version="1.0.0",
        out=tmp_path / "b",
        features=["a", "b"],
    )
    env = {"INFERSTACK_MAX_BATCH_SIZE": "4", "INFERSTACK_MAX_BATCH_WAIT_MS": "0"}
    server = RuntimeServer(path, log_dir, env=env).start()
    results: dict[int, object] = {}

    def call(i: int) -> None:
        try:
            r = httpx.post(
                server.url + "/predict", json={"instances": [[float(i), 1.0]]}, timeout=60
            )
            results[i] = (r.status_code, r.json())
        except httpx.HTTPError as err:
            results[i] = err

    threads = [threading.Thread(target=call, args=(i,)) for i in range(24)]
    try:
        for t in threads:
            t.start()
        # 24 requests, 4 per 0.25 s batch: about 1.5 s of work. SIGTERM lands once every
        # request has been accepted (in flight or answered), however slowly clients connect.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            metrics = server.get("/metrics").text
            # The in-flight gauge counts this /metrics request too.
            in_flight = metric_value(metrics, "inferstack_inflight_requests") - 1
            accepted = in_flight + metric_value(
                metrics, "inferstack_requests_total", route="/predict"
            )
            if accepted >= 24:
                break
            time.sleep(0.02)
        assert accepted >= 24, f"only {accepted} of 24 requests reached the server"
        assert in_flight > 0, "nothing was left in flight to drain"
        assert server.proc is not None
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        try:
            refused = httpx.get(server.url + "/ping", timeout=2).status_code != 200
        except httpx.TransportError:
            refused = True
        assert refused, "server still accepted new work after SIGTERM"
        for t in threads:
            t.join(30)
        code = server.proc.wait(30)
    finally:
        server.stop()
    assert code == 0, server.logs()
    assert sorted(results) == list(range(24))
    for i, result in results.items():
        assert result == (200, {"predictions": [i + 1.0]}), result
