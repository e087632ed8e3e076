"""Small requests while large ones flow: their p99, before and after a change. One command.

    .venv/bin/python bench/mixed.py [--before REF] [--duration 10] [--large-clients 4]

Serves the quickstart bundle (``examples/logreg-20f/bundle`` as committed at ``--before``)
twice: with the runtime as committed at ``--before`` (extracted with ``git archive``
and put first on ``PYTHONPATH``) and with the working tree's. Each server is pinned
to core 0 with ``taskset``; the clients run on the other cores. ``--large-clients``
threads each post, in a loop, a ~5.5 MiB ``/predict`` body of 15,000 rows while one
closed-loop client posts single-row requests for ``--duration`` seconds; reported per
server: the small requests' count, p50, p99 and max, and the large requests answered.
Everything listens on 127.0.0.1 only. Results go to ``bench/results/mixed.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = "examples/logreg-20f/bundle"
LARGE_ROWS = 15_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def extract(ref: str, path: str, into: Path) -> Path:
    """``path`` as committed at ``ref``, unpacked under ``into``."""
    data = subprocess.run(
        ["git", "archive", "--format=tar", ref, path], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into / path


def serve(bundle: Path, pythonpath: str | None, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "INFERSTACK_HOST": "127.0.0.1",
        "INFERSTACK_PORT": str(port),
        "INFERSTACK_LOG_LEVEL": "warning",
        "INFERSTACK_ALLOW_PICKLE": "true",  # the committed quickstart bundle is a joblib file
    }
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = ["taskset", "-c", "0", sys.executable, "-m", "inferstack.runtime", "serve", str(bundle)]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=bundle)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url + "/v2/health/ready", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise TimeoutError(f"server not ready: {log.read_text()[-2000:]}")


def measure(url: str, large_body: bytes, clients: int, seconds: float) -> dict[str, Any]:
    stop = threading.Event()
    large_done: list[int] = []
    small_row = orjson.dumps({"instances": [[0.5] * 20]})
    headers = {"content-type": "application/json"}

    def large() -> None:
        with httpx.Client(timeout=120) as client:
            while not stop.is_set():
                r = client.post(url + "/predict", content=large_body, headers=headers)
                large_done.append(r.status_code)

    threads = [threading.Thread(target=large, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # large requests in flight before timing starts
    latencies: list[float] = []
    errors = 0
    with httpx.Client(timeout=60) as client:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t0 = time.perf_counter()
            r = client.post(url + "/predict", content=small_row, headers=headers)
            latencies.append(time.perf_counter() - t0)
            errors += r.status_code != 200
    stop.set()
    for t in threads:
        t.join(120)
    ms = np.asarray(latencies) * 1000
    return {
        "small_requests": len(ms),
        "small_errors": errors,
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "large_answered": sum(1 for s in large_done if s == 200),
        "large_refused": sum(1 for s in large_done if s != 200),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", default="ebde408", help="git ref of the 'before' runtime")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--large-clients", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "mixed.json")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    large_body = orjson.dumps(
        {"instances": rng.normal(size=(LARGE_ROWS, 20))}, option=orjson.OPT_SERIALIZE_NUMPY
    )
    print(f"large body: {len(large_body) / 2**20:.2f} MiB, {LARGE_ROWS} rows")
    results = []
    with tempfile.TemporaryDirectory(prefix="inferstack-mixed-") as tmp:
        work = Path(tmp)
        bundle = extract(args.before, BUNDLE, work)
        before = work / "before"
        extract(args.before, "runtime", before)
        (before / "inferstack").mkdir()
        (before / "inferstack" / "__init__.py").write_text("")
        (before / "runtime").rename(before / "inferstack" / "runtime")
        for name, pythonpath in ((f"before ({args.before})", str(before)), ("after", None)):
            proc, url = serve(bundle, pythonpath, work / "server.log")
            try:
                row = {
                    "server": name,
                    **measure(url, large_body, args.large_clients, args.duration),
                }
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(40)
                except subprocess.TimeoutExpired:
                    proc.kill()
            results.append(row)
            print(
                f"  {name:<18} small: {row['small_requests']:5d} req  p50 {row['p50_ms']:7.1f} ms"
                f"  p99 {row['p99_ms']:7.1f} ms  max {row['max_ms']:7.1f} ms  errors "
                f"{row['small_errors']}  large answered {row['large_answered']}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"large_rows": LARGE_ROWS, "results": results}, indent=2))


if __name__ == "__main__":
    main()
