"""Benchmark the runtime against a plain FastAPI endpoint: one command.

    .venv/bin/python bench/runtime.py [--bundle examples/logreg-20f/bundle] [--duration 15]

The server under test is pinned to one core with ``taskset``; ``wrk`` (Debian
package) drives it from another core, closed loop, single-row requests: 3 s warm-up,
then ``--duration`` seconds at each concurrency (1, 16, 64). Reported per run:
req/s, p50, p99, errors, the server's CPU time per request (from /proc), and the
in-process predict cost of the same row, so the serving overhead shows as a ratio.
The FastAPI + uvicorn baseline (needs ``pip install fastapi``) runs in the same
invocation under the same load. Everything listens on 127.0.0.1 only.

``--large`` measures rows per second for 256-row requests (``--rows``) instead, one
transport at a time against the same server: V2 JSON tensors and V2 binary tensors
(the binary tensor data extension) on ``/v2/models/{name}/infer``, and V2 over gRPC
(``ModelInfer`` with raw contents, on ``INFERSTACK_GRPC_PORT``, ``c`` callers; and
``ModelStreamInfer``, the same messages on one stream with ``c`` in flight), beside the
in-process ``predict_proba`` of the same rows in the same run (written to
``bench/results/runtime-large.json``): once at the end, and again on the server's core
right after each transport's runs, which each run is also compared with (the machine's
speed drifts over minutes on shared hardware). A transport is one small function in
``TRANSPORTS``: it gets the running server and the rows and returns its measurement.
``--drift-compare`` serves the same transports with ``INFERSTACK_DRIFT=false`` too
(drift off; the anomaly check stays on in both), ``--rounds`` times in alternating
order, and gives drift-on's rows/s and CPU per request as a share of drift-off's.
``--runtime-ref REF`` serves the runtime as committed at ``REF`` instead of the
working tree's, to measure a change against its parent in the same hour.

``--frame-pipeline`` benchmarks a model fitted on a DataFrame instead: a scikit-learn
``Pipeline(ColumnTransformer(OneHotEncoder on a string column, StandardScaler on
numbers), LogisticRegression)``, trained and bundled on the fly, served with a
DataFrame built per batch (mixed string/number rows; no baseline, no fast path).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import numpy as np
import orjson
import yaml

ROOT = Path(__file__).resolve().parent.parent
LUA = ROOT / "bench" / "post.lua"
LUA_HEADERS = ROOT / "bench" / "post_headers.lua"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its reaped children (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def start(
    cmd: list[str], env: dict[str, str], core: int, port: int, log: Path, body: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            ["taskset", "-c", str(core), *cmd],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[0]} exited: {log.read_text()[-2000:]}")
        try:
            url = f"http://127.0.0.1:{port}/predict"
            headers = {"Content-Type": "application/json"}
            answer = httpx.post(url, content=body.read_bytes(), headers=headers, timeout=1)
            if answer.status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    proc.wait(5)
    raise TimeoutError(f"server on {port} not ready: {log.read_text()[-2000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def wrk(
    url: str,
    body: Path,
    connections: int,
    seconds: float,
    core: int,
    headers: list[str] | None = None,
) -> dict[str, Any]:
    cmd = [
        "taskset",
        "-c",
        str(core),
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{round(seconds)}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA if headers is None else LUA_HEADERS),
        url,
        "--",
        str(body),
        *(headers or []),
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    return dict(json.loads(line[len("WRK_JSON ") :]))


def drive(
    name: str, pid: int, url: str, body: Path, args: argparse.Namespace, levels: list[int]
) -> list[dict[str, Any]]:
    rows = []
    for c in levels:
        wrk(url, body, c, args.warmup, args.client_core)
        before = cpu_seconds(pid)
        r = wrk(url, body, c, args.duration, args.client_core)
        cpu = cpu_seconds(pid) - before
        rps = r["requests"] / (r["duration_us"] / 1e6)
        errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
        rows.append(
            {
                "server": name,
                "concurrency": c,
                "rps": rps,
                "p50_ms": r["p50_us"] / 1000,
                "p99_ms": r["p99_us"] / 1000,
                "errors": errors,
                "requests": r["requests"],
                "cpu_us_per_req": cpu / max(r["requests"], 1) * 1e6,
            }
        )
        print(
            f"  {name:<11} c={c:<3} {rps:9.0f} req/s  p50 {r['p50_us'] / 1000:6.2f} ms  "
            f"p99 {r['p99_us'] / 1000:6.2f} ms  errors {errors}  "
            f"cpu/req {rows[-1]['cpu_us_per_req']:6.1f} us",
            flush=True,
        )
    return rows


def in_process(bundle: Path, row: list[float]) -> dict[str, float]:
    """Per-call cost of predicting the same row in-process, with and without the checks."""
    import sklearn

    from inferstack.runtime import load_bundle

    served = load_bundle(bundle)
    model = served.predictor.model  # type: ignore[attr-defined]
    x1 = np.asarray([row])
    x64 = np.repeat(x1, 64, axis=0)

    def timeit(fn: Any, n: int = 3000) -> float:
        fn()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n * 1e6

    def assume_finite() -> Any:
        with sklearn.config_context(assume_finite=True):
            return model.predict_proba(x1)

    return {
        "sklearn_predict_proba_1row_us": timeit(lambda: model.predict_proba(x1)),
        "sklearn_assume_finite_1row_us": timeit(assume_finite),
        "runtime_fast_path_1row_us": timeit(lambda: served.run(x1)),
        "runtime_validate_and_predict_1row_us": timeit(lambda: served.predict([row])),
        "sklearn_predict_proba_64rows_us": timeit(lambda: model.predict_proba(x64)),
        "runtime_fast_path_64rows_us": timeit(lambda: served.run(x64)),
    }


def frame_pipeline_bundle(out: Path) -> tuple[Path, list[Any]]:
    """Train the DataFrame pipeline on 2,000 synthetic rows and bundle it; returns a row."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from inferstack.runtime import bundle

    rng = np.random.default_rng(7)
    n = 2000
    df = pd.DataFrame({f"x{i}": rng.normal(size=n) for i in range(8)})
    df["city"] = rng.choice(["oslo", "paris", "rome", "lima", "kyiv"], n)
    y = ((df["x0"] > 0) ^ (df["city"] == "rome")).to_numpy().astype(int)
    numeric = [c for c in df.columns if c != "city"]
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("num", StandardScaler(), numeric),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(df, y)
    path = bundle(model, framework="sklearn", name="frame-pipeline", version="1.0.0", out=out)
    return path, [*(float(v) for v in df.iloc[0, :8]), str(df["city"].iloc[0])]


def frame_in_process(bundle: Path, row: list[Any]) -> dict[str, float]:
    """Per-call cost of the pipeline on a one-row DataFrame, and through the runtime."""
    import pandas as pd

    from inferstack.runtime import load_bundle

    served = load_bundle(bundle)
    model = served.predictor.model  # type: ignore[attr-defined]
    df1 = pd.DataFrame([row], columns=served.manifest.input.names)
    batch = served.decoder.decode([row], "instances")
    frame = served.predictor.frame  # type: ignore[attr-defined]

    def timeit(fn: Any, n: int = 2000) -> float:
        fn()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        return (time.perf_counter() - start) / n * 1e6

    return {
        "sklearn_predict_proba_1row_us": timeit(lambda: model.predict_proba(df1)),
        "runtime_build_frame_1row_us": timeit(lambda: frame(batch)),
        "runtime_run_1row_us": timeit(lambda: served.run(batch)),
        "runtime_validate_and_predict_1row_us": timeit(lambda: served.predict([row])),
    }


# ---- large requests: rows per second, one small function per transport ----------


class Served(NamedTuple):
    """The server under test, as a transport sees it."""

    pid: int
    base_url: str
    model: str
    tmp: Path
    grpc_address: str


# A transport gets the server, the request's rows and the options; returns one result
# per concurrency level (see ``measure_http``).
Transport = Callable[[Served, np.ndarray, argparse.Namespace], list[dict[str, Any]]]


def measure_http(
    name: str,
    served: Served,
    path: str,
    body: bytes,
    headers: list[str],
    rows: int,
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    """Drive ``path`` with ``body`` under wrk at each concurrency; rows/s per level."""
    file = served.tmp / f"{name}.body"
    file.write_bytes(body)
    url = served.base_url + path
    check = httpx.post(url, content=body, headers=dict(h.split(": ", 1) for h in headers))
    if check.status_code != 200:
        raise RuntimeError(f"{name}: {check.status_code} {check.text[:300]}")
    results = []
    for c in args.concurrency:
        wrk(url, file, c, args.warmup, args.client_core, headers)
        before = cpu_seconds(served.pid)
        r = wrk(url, file, c, args.duration, args.client_core, headers)
        cpu = cpu_seconds(served.pid) - before
        seconds = r["duration_us"] / 1e6
        errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
        results.append(
            {
                "transport": name,
                "concurrency": c,
                "body_bytes": len(body),
                "rows_per_s": r["requests"] * rows / seconds,
                "rps": r["requests"] / seconds,
                "p50_ms": r["p50_us"] / 1000,
                "p99_ms": r["p99_us"] / 1000,
                "errors": errors,
                "cpu_us_per_req": cpu / max(r["requests"], 1) * 1e6,
            }
        )
        print(
            f"  {name:<10} c={c:<3} {results[-1]['rows_per_s']:10.0f} rows/s  "
            f"({results[-1]['rps']:6.0f} req/s)  p50 {r['p50_us'] / 1000:6.2f} ms  "
            f"p99 {r['p99_us'] / 1000:6.2f} ms  errors {errors}  "
            f"cpu/req {results[-1]['cpu_us_per_req']:7.1f} us",
            flush=True,
        )
    return results


def _v2_tensor(x: np.ndarray) -> dict[str, Any]:
    return {"name": "input-0", "shape": list(x.shape), "datatype": "FP64"}


def v2_json(served: Served, x: np.ndarray, args: argparse.Namespace) -> list[dict[str, Any]]:
    """V2 JSON tensors in and out."""
    body = orjson.dumps(
        {"inputs": [{**_v2_tensor(x), "data": x.reshape(-1)}]}, option=orjson.OPT_SERIALIZE_NUMPY
    )
    path = f"/v2/models/{served.model}/infer"
    return measure_http("v2-json", served, path, body, [f"Content-Type: {JSON}"], len(x), args)


def v2_binary(served: Served, x: np.ndarray, args: argparse.Namespace) -> list[dict[str, Any]]:
    """V2 binary tensor data in and out (Inference-Header-Content-Length)."""
    raw = np.ascontiguousarray(x, dtype="<f8").tobytes()
    tensor = {**_v2_tensor(x), "parameters": {"binary_data_size": len(raw)}}
    header = orjson.dumps({"inputs": [tensor], "parameters": {"binary_data_output": True}})
    headers = ["Content-Type: application/octet-stream"]
    headers.append(f"Inference-Header-Content-Length: {len(header)}")
    path = f"/v2/models/{served.model}/infer"
    return measure_http("v2-binary", served, path, header + raw, headers, len(x), args)


def _model_infer_body(served: Served, x: np.ndarray) -> bytes:
    from inferstack.runtime import grpc_predict_v2_pb2 as pb

    request = pb.ModelInferRequest(model_name=served.model)
    request.inputs.add(name="input-0", datatype="FP64", shape=list(x.shape))
    request.raw_input_contents.append(np.ascontiguousarray(x, dtype="<f8").tobytes())
    return request.SerializeToString()


# A gRPC driver sends ``body`` on the channel from ``c`` callers (or with ``c`` requests in
# flight) for ``seconds``; returns each request's latency, the errors and the seconds taken.
GrpcDriver = Callable[[Any, bytes, int, float], Awaitable[tuple[list[float], int, float]]]


async def _unary_calls(
    channel: Any, body: bytes, c: int, seconds: float
) -> tuple[list[float], int, float]:
    """``c`` callers in a closed loop of ``ModelInfer`` calls."""
    import grpc

    call = channel.unary_unary("/inference.GRPCInferenceService/ModelInfer")
    await call(body)  # fails loudly if the server refuses the request
    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal errors
        while time.perf_counter() < end:
            t = time.perf_counter()
            try:
                await call(body)
            except grpc.RpcError:
                errors += 1
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(c)))
    return latencies, errors, time.perf_counter() - start


async def _one_stream(
    channel: Any, body: bytes, c: int, seconds: float
) -> tuple[list[float], int, float]:
    """One ``ModelStreamInfer`` stream with ``c`` requests in flight (as Triton's client's
    ``async_stream_infer`` sends them); answers come in the order sent."""
    stream = channel.stream_stream("/inference.GRPCInferenceService/ModelStreamInfer")()
    slots = asyncio.Semaphore(c)
    sent: deque[float] = deque()
    latencies: list[float] = []
    errors = 0
    end = time.perf_counter() + seconds

    async def send() -> None:
        while time.perf_counter() < end:
            await slots.acquire()
            sent.append(time.perf_counter())
            await stream.write(body)
        await stream.done_writing()

    async def receive() -> None:
        nonlocal errors
        async for answer in stream:
            latencies.append(time.perf_counter() - sent.popleft())
            if answer[:1] == b"\x0a":  # field 1, error_message, is set: the request failed
                if not latencies[1:]:
                    raise RuntimeError(f"ModelStreamInfer: {answer[:300]!r}")
                errors += 1
            slots.release()

    start = time.perf_counter()
    await asyncio.gather(send(), receive())
    return latencies, errors, time.perf_counter() - start


def v2_grpc(served: Served, x: np.ndarray, args: argparse.Namespace) -> list[dict[str, Any]]:
    """V2 over gRPC, unary ``ModelInfer``: raw_input_contents in, raw_output_contents out
    (Triton's client's form), ``c`` callers."""
    return measure_grpc("v2-grpc", _unary_calls, served, x, args)


def v2_grpc_stream(served: Served, x: np.ndarray, args: argparse.Namespace) -> list[dict[str, Any]]:
    """V2 over gRPC, ``ModelStreamInfer``: the same messages on one stream, ``c`` in flight."""
    return measure_grpc("grpc-stream", _one_stream, served, x, args)


def measure_grpc(
    name: str, driver: GrpcDriver, served: Served, x: np.ndarray, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """Drive the gRPC port with ``driver`` at each concurrency; rows/s, latency and server
    CPU as ``measure_http``. No wrk for gRPC: grpc.aio from this process, pinned to the
    client core, drives it."""
    import grpc

    body = _model_infer_body(served, x)

    async def loop(c: int, seconds: float) -> tuple[list[float], int, float]:
        async with grpc.aio.insecure_channel(served.grpc_address) as channel:
            return await driver(channel, body, c, seconds)

    affinity = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {args.client_core})
    results = []
    try:
        for c in args.concurrency:
            asyncio.run(loop(c, args.warmup))
            before, threads_before = cpu_seconds(served.pid), thread_cpu(served.pid)
            client_before = time.process_time()
            latencies, errors, seconds = asyncio.run(loop(c, args.duration))
            cpu = cpu_seconds(served.pid) - before
            client_cpu = time.process_time() - client_before
            by_thread = thread_cpu(served.pid, threads_before)
            n = max(len(latencies), 1)
            ms = np.percentile(np.array(latencies) * 1000, [50, 99])
            results.append(
                {
                    "transport": name,
                    "concurrency": c,
                    "body_bytes": len(body),
                    "rows_per_s": len(latencies) * len(x) / seconds,
                    "rps": len(latencies) / seconds,
                    "p50_ms": float(ms[0]),
                    "p99_ms": float(ms[1]),
                    "errors": errors,
                    "cpu_us_per_req": cpu / n * 1e6,
                    # where the server's CPU went: the event loop's thread, gRPC core's
                    # own threads, other Python threads (gRPC's poller, the model thread)
                    "cpu_us_per_req_by_thread": {k: v / n * 1e6 for k, v in by_thread.items()},
                    # the client's own CPU: near one core's worth, the figures are its
                    "client_cpu_us_per_req": client_cpu / n * 1e6,
                }
            )
            r = results[-1]
            split = ", ".join(f"{k} {v:.0f}" for k, v in r["cpu_us_per_req_by_thread"].items())
            print(
                f"  {name:<10} c={c:<3} {r['rows_per_s']:10.0f} rows/s  ({r['rps']:6.0f} req/s)  "
                f"p50 {ms[0]:6.2f} ms  p99 {ms[1]:6.2f} ms  errors {errors}  "
                f"cpu/req {r['cpu_us_per_req']:7.1f} us ({split}; client "
                f"{r['client_cpu_us_per_req']:.0f} us, {client_cpu / seconds:.0%} of its core)",
                flush=True,
            )
    finally:
        os.sched_setaffinity(0, affinity)
    return results


def thread_cpu(pid: int, since: dict[str, float] | None = None) -> dict[str, float]:
    """CPU seconds of a process's live threads in three groups (``v2_grpc``'s split):
    ``loop`` (the main thread, which runs the event loop), ``grpc core`` (threads gRPC's
    C core names), ``other python``; minus ``since`` when given. Threads that exited
    meanwhile are not counted."""
    groups = {"loop": 0.0, "grpc core": 0.0, "other python": 0.0}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            comm = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread exited
            continue
        if task.name == str(pid):
            group = "loop"
        elif comm.startswith(("event_engine", "grpc_", "lifeguard")):
            group = "grpc core"
        else:
            group = "other python"
        groups[group] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    if since is not None:
        groups = {k: v - since[k] for k, v in groups.items()}
    return groups


TRANSPORTS: dict[str, Transport] = {
    "v2-json": v2_json,
    "v2-binary": v2_binary,
    "v2-grpc": v2_grpc,
    "grpc-stream": v2_grpc_stream,
}
JSON = "application/json"


def in_process_rows(bundle: Path, x: np.ndarray) -> dict[str, float]:
    """Rows per second of the model called in this process on the same rows: per second
    of wall time, and per second of this process's CPU time (what preemption by other
    jobs on a shared machine does not change)."""
    from inferstack.runtime import load_bundle

    served = load_bundle(bundle)
    model = served.predictor.model  # type: ignore[attr-defined]

    def rows_per_s(fn: Any, clock: Callable[[], float], n: int = 2000) -> float:
        fn()
        start = clock()
        for _ in range(n):
            fn()
        return len(x) * n / (clock() - start)

    proba, fast = (lambda: model.predict_proba(x)), (lambda: served.run(x))
    return {
        "sklearn_predict_proba_rows_per_s": rows_per_s(proba, time.perf_counter),
        "runtime_run_rows_per_s": rows_per_s(fast, time.perf_counter),
        "sklearn_predict_proba_rows_per_cpu_s": rows_per_s(proba, time.process_time),
        "runtime_run_rows_per_cpu_s": rows_per_s(fast, time.process_time),
    }


class Adjacent:
    """``predict_proba`` on the same rows, measured on the server's core right after each
    transport's run: the machine's speed drifts by tens of percent over a few minutes on
    shared hardware, so each run is compared with the model measured next to it."""

    def __init__(self, bundle: Path, x: np.ndarray, core: int) -> None:
        from inferstack.runtime import load_bundle

        self.model = load_bundle(bundle).predictor.model  # type: ignore[attr-defined]
        self.x = x
        self.core = core

    def measure(self, n: int = 1000) -> dict[str, float]:
        """Rows per second of wall time and of this process's CPU time, pinned."""
        affinity = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {self.core})
        try:
            self.model.predict_proba(self.x)
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(n):
                self.model.predict_proba(self.x)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            os.sched_setaffinity(0, affinity)
        rows = len(self.x) * n
        return {"rows_per_s": rows / wall, "rows_per_cpu_s": rows / cpu}


def runtime_at(ref: str, into: Path) -> Path:
    """A directory to put first on ``PYTHONPATH`` that holds ``inferstack.runtime`` as
    committed at ``ref`` (``git archive``), to measure a change against its parent."""
    archive = ["git", "archive", "--format=tar", ref, "runtime"]
    data = subprocess.run(archive, cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    (into / "inferstack").mkdir()
    (into / "inferstack" / "__init__.py").write_text("")
    (into / "runtime").rename(into / "inferstack" / "runtime")
    return into


def serve_large(
    args: argparse.Namespace,
    tmp: Path,
    single_row: Path,
    bundle: Path,
    x: np.ndarray,
    extra_env: dict[str, str],
    adjacent: Adjacent,
) -> list[dict[str, Any]]:
    """Start a server for ``bundle`` (``extra_env`` added), run every transport, stop it;
    each transport's runs carry the in-process figure measured right after them."""
    model = yaml.safe_load((bundle / "inferstack.yaml").read_text())["name"]
    port = free_port()
    grpc_port = free_port()
    env = {
        "INFERSTACK_PORT": str(port),
        "INFERSTACK_HOST": "127.0.0.1",
        "INFERSTACK_LOG_LEVEL": "warning",
        "INFERSTACK_GRPC_PORT": str(grpc_port),
        **dict(kv.split("=", 1) for kv in args.server_env),
        **extra_env,
    }
    if args.runtime_ref:
        env["PYTHONPATH"] = str(tmp / "ref")
    cmd = [sys.executable, "-m", "inferstack.runtime", "serve", str(bundle)]
    proc = start(cmd, env, args.server_core, port, tmp / "large.log", single_row)
    results: list[dict[str, Any]] = []
    try:
        served = Served(proc.pid, f"http://127.0.0.1:{port}", model, tmp, f"127.0.0.1:{grpc_port}")
        for name in args.transports:
            runs = TRANSPORTS[name](served, x, args)
            near = adjacent.measure()
            results += [{**r, "in_process_adjacent": near} for r in runs]
    finally:
        stop(proc)
    return results


def large(args: argparse.Namespace, tmp: Path, single_row: Path) -> int:
    """``--large``: rows/s of each transport against the in-process figure, same run.

    With ``--drift-compare`` the same transports run against a server with drift on and
    one with ``INFERSTACK_DRIFT=false``, ``--rounds`` times in alternating order, and each
    drift-on figure is given as a share of drift-off's.
    """
    x = np.random.default_rng(7).normal(size=(args.rows, 20))
    load_before = os.getloadavg()
    if args.runtime_ref:
        runtime_at(args.runtime_ref, tmp / "ref")  # served from there (serve_large)
    servers: dict[str, dict[str, str]] = {"drift-on": {}}
    if args.drift_compare:
        servers["drift-off"] = {"INFERSTACK_DRIFT": "false"}
    results: list[dict[str, Any]] = []
    order = list(servers)
    adjacent = Adjacent(args.bundle, x, args.server_core)
    for round_ in range(args.rounds):
        for label in order if round_ % 2 == 0 else order[::-1]:
            print(f"{label} (round {round_ + 1}):", flush=True)
            runs = serve_large(args, tmp, single_row, args.bundle, x, servers[label], adjacent)
            for r in runs:
                results.append({**r, "bundle": label, "round": round_ + 1})
    # pinned to the server's core, so "one core" means the same thing for both
    os.sched_setaffinity(0, {args.server_core})
    costs = in_process_rows(args.bundle, x)
    base = costs["sklearn_predict_proba_rows_per_s"]
    print(
        f"in-process, same {args.rows} rows: predict_proba {base:,.0f} rows/s, "
        f"runtime fast path {costs['runtime_run_rows_per_s']:,.0f} rows/s"
    )
    base_cpu = costs["sklearn_predict_proba_rows_per_cpu_s"]
    print(f"  per CPU second: predict_proba {base_cpu:,.0f} rows")
    for r in results:
        r["share_of_in_process"] = r["rows_per_s"] / base
        # rows per second of the server's CPU time against the same for predict_proba
        r["rows_per_server_cpu_s"] = args.rows / (r["cpu_us_per_req"] / 1e6)
        r["cpu_share_of_in_process"] = r["rows_per_server_cpu_s"] / base_cpu
        near = r["in_process_adjacent"]
        r["share_of_adjacent"] = r["rows_per_s"] / near["rows_per_s"]
        r["cpu_share_of_adjacent"] = r["rows_per_server_cpu_s"] / near["rows_per_cpu_s"]
        print(
            f"  {r['bundle']:<9} {r['transport']:<10} c={r['concurrency']:<3} "
            f"{r['share_of_in_process']:.2f} x in-process predict_proba (wall), "
            f"{r['cpu_share_of_in_process']:.2f} x per CPU second; against the one measured "
            f"next to it ({near['rows_per_s']:,.0f} rows/s): {r['share_of_adjacent']:.2f} "
            f"(wall), {r['cpu_share_of_adjacent']:.2f} (per CPU second)"
        )
    drift = drift_summary(results) if args.drift_compare else []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "load_before": load_before,
                "load": os.getloadavg(),
                "rows": args.rows,
                "server_env": args.server_env,
                "runtime_ref": args.runtime_ref,
                "runs": results,
                "in_process": costs,
                "drift_on_vs_off": drift,
            },
            indent=2,
        )
    )
    print(f"load average {load_before} -> {os.getloadavg()}; results: {args.out}")
    return 0


def drift_summary(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per transport and concurrency: drift-on's rows/s and CPU per request as a share of
    drift-off's, over all rounds (medians)."""
    out = []
    keys = sorted({(r["transport"], r["concurrency"]) for r in results})
    for transport, c in keys:
        on = [
            r
            for r in results
            if (r["transport"], r["concurrency"], r["bundle"]) == (transport, c, "drift-on")
        ]
        off = [
            r
            for r in results
            if (r["transport"], r["concurrency"], r["bundle"]) == (transport, c, "drift-off")
        ]
        rows_on = float(np.median([r["rows_per_s"] for r in on]))
        rows_off = float(np.median([r["rows_per_s"] for r in off]))
        cpu_on = float(np.median([r["cpu_us_per_req"] for r in on]))
        cpu_off = float(np.median([r["cpu_us_per_req"] for r in off]))
        out.append(
            {
                "transport": transport,
                "concurrency": c,
                "rows_per_s_on": rows_on,
                "rows_per_s_off": rows_off,
                "throughput_on_vs_off": rows_on / rows_off,
                "cpu_us_per_req_on": cpu_on,
                "cpu_us_per_req_off": cpu_off,
                "cpu_on_vs_off": cpu_on / cpu_off,
            }
        )
        print(
            f"drift on/off {transport:<10} c={c:<3} rows/s {rows_on:10.0f} / {rows_off:10.0f} "
            f"= {rows_on / rows_off:.3f}; cpu/req {cpu_on:7.1f} / {cpu_off:7.1f} us "
            f"= {cpu_on / cpu_off:.3f}"
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bundle", type=Path, default=ROOT / "examples" / "logreg-20f" / "bundle")
    parser.add_argument("--duration", type=float, default=15.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=None)
    parser.add_argument("--server-core", type=int, default=0)
    parser.add_argument("--client-core", type=int, default=1)
    parser.add_argument("--no-baseline", action="store_true", help="skip the FastAPI baseline")
    parser.add_argument(
        "--no-fast-path-run",
        action="store_true",
        help="skip the run with INFERSTACK_FAST_PATH=false",
    )
    parser.add_argument(
        "--frame-pipeline",
        action="store_true",
        help="benchmark a DataFrame-fitted ColumnTransformer pipeline (built on the fly)",
    )
    parser.add_argument(
        "--large",
        action="store_true",
        help="rows/s of --rows-row requests per transport against in-process predict_proba",
    )
    parser.add_argument("--rows", type=int, default=256, help="rows per request (--large)")
    parser.add_argument(
        "--transports", nargs="+", choices=sorted(TRANSPORTS), default=list(TRANSPORTS)
    )
    parser.add_argument(
        "--server-env",
        nargs="+",
        default=[],
        metavar="KEY=VALUE",
        help="extra settings for the server (--large), e.g. INFERSTACK_MAX_BATCH_SIZE=256",
    )
    parser.add_argument(
        "--runtime-ref",
        default=None,
        help="serve the runtime as committed at this git ref (--large), e.g. to measure a change",
    )
    parser.add_argument(
        "--drift-compare",
        action="store_true",
        help="(--large) also serve with INFERSTACK_DRIFT=false: drift on vs off",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="(--large) repeat the servers, alternating order"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.concurrency = args.concurrency or ([1, 8] if args.large else [1, 16, 64])
    name = "runtime-frame.json" if args.frame_pipeline else "runtime.json"
    name = "runtime-large.json" if args.large else name
    args.out = args.out or ROOT / "bench" / "results" / name
    row: list[Any] = [float(v) for v in np.random.default_rng(7).normal(size=20)]
    tmp = Path(tempfile.mkdtemp(prefix="inferstack-bench-"))
    if args.frame_pipeline:
        args.bundle, row = frame_pipeline_bundle(tmp / "frame-pipeline")
        args.no_baseline = args.no_fast_path_run = True
    body = tmp / "body.json"
    body.write_text(json.dumps({"instances": [row]}))
    if args.large:
        return large(args, tmp, body)
    print(
        f"load: {os.getloadavg()}  cpus: {os.cpu_count()}  server core {args.server_core}, "
        f"wrk core {args.client_core}",
        flush=True,
    )
    results: list[dict[str, Any]] = []
    ours = [sys.executable, "-m", "inferstack.runtime", "serve", str(args.bundle)]
    baseline = [sys.executable, "-m", "uvicorn", "bench.fastapi_baseline:app", "--host"]
    baseline += ["127.0.0.1", "--log-level", "warning", "--no-access-log"]
    # (label, command, extra env, concurrencies)
    servers = [("inferstack", ours, {}, args.concurrency)]
    if not args.no_fast_path_run:
        servers.append(("no-fastpath", ours, {"INFERSTACK_FAST_PATH": "false"}, [1, 64]))
    if not args.no_baseline:
        servers.append(("fastapi", baseline, {}, args.concurrency))
    for name, cmd, extra, levels in servers:
        port = free_port()
        env = {
            "INFERSTACK_PORT": str(port),
            "INFERSTACK_HOST": "127.0.0.1",
            "INFERSTACK_LOG_LEVEL": "warning",
            "INFERSTACK_BENCH_BUNDLE": str(args.bundle),
            **extra,
        }
        if name == "fastapi":
            cmd = [*cmd, "--port", str(port)]
        proc = start(cmd, env, args.server_core, port, tmp / f"{name}.log", body)
        try:
            url = f"http://127.0.0.1:{port}/predict"
            results += drive(
                name, proc.pid, url, body, args, [c for c in levels if c in args.concurrency]
            )
        finally:
            stop(proc)
    costs = (
        frame_in_process(args.bundle, row) if args.frame_pipeline else in_process(args.bundle, row)
    )
    print("in-process, same row: " + ", ".join(f"{k} {v:.1f}" for k, v in costs.items()))
    for r in results:
        r["overhead_ratio"] = r["cpu_us_per_req"] / costs["sklearn_predict_proba_1row_us"]
    ours = {r["concurrency"]: r for r in results if r["server"] == "inferstack"}
    base = {r["concurrency"]: r for r in results if r["server"] == "fastapi"}
    for c in sorted(ours):
        if c in base:
            speedup = ours[c]["rps"] / max(base[c]["rps"], 1e-9)
            print(
                f"c={c}: inferstack / fastapi = {speedup:.1f}x; server CPU per request / "
                f"in-process predict_proba = {ours[c]['overhead_ratio']:.2f}"
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"load": os.getloadavg(), "runs": results, "in_process": costs}, indent=2)
    )
    print(f"results: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
