"""Runtime image size and cold start (container start -> ready), one command.

    .venv/bin/python bench/coldstart.py [--image IMAGE] [--base-image inferstack/base:bookworm]
                                        [--runs 5]

Without --image it builds the quickstart image (examples/logreg-20f/bundle) the way
`inferstack build` does, on --base-image (no registry is needed when that image is
local). Each run starts a fresh container with `docker run -d --network host ...
serve` and measures the wall time from just before `docker run` until `/ping`
answers 200 on 127.0.0.1 (polled every 10 ms); the model's own load time is read
from `inferstack_model_load_seconds`. Image size is the engine's uncompressed size;
the gzip size of `docker save` is what a registry pull transfers (approximately).
Results go to stdout and bench/results/coldstart.json. Beside it, unless
``--no-baseline``, the plain FastAPI app (``bench/fastapi_baseline.py`` under uvicorn)
runs in a container of the same image with fastapi and its dependencies copied in
from this interpreter (``inferstack/bench-fastapi``; same Python, same scikit-learn and
skops, same bundle), until its first 200 (``/openapi.json``); the two alternate.

``--process`` measures processes instead of containers, on this machine's Python:
``python -m inferstack.runtime serve BUNDLE`` until ``/ping`` answers 200, against the
plain FastAPI app (``bench/fastapi_baseline.py`` under uvicorn, which loads the same
skops model at import) until it answers its first 200 (``/openapi.json``), alternated
``--runs`` times after one warm-up each; results in bench/results/coldstart-process.json.
Beside the wall time, ``cpu_s`` is the CPU time (user + system, every thread) the server
process had used when it first answered 200: on a busy machine it moves far less than
the wall time, and it counts what answering the 5 ms readiness polls costs the runtime.
``--runtime-ref REF`` adds the runtime as committed at ``REF`` to the alternation.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from runtime import runtime_at  # bench/runtime.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
BUNDLE = ROOT / "examples" / "logreg-20f" / "bundle"
RESULTS = ROOT / "bench" / "results" / "coldstart.json"
MB = 1_000_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def docker(*args: str) -> str:
    return subprocess.run(
        ["docker", *args], capture_output=True, text=True, check=True, timeout=300
    ).stdout


def image_size(image: str) -> dict[str, float]:
    size = int(docker("image", "inspect", "--format", "{{.Size}}", image).strip())
    save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    gzip = subprocess.run(["gzip", "-6"], stdin=save.stdout, capture_output=True, check=True)
    save.wait()
    return {"uncompressed_mb": round(size / MB, 1), "gzip_mb": round(len(gzip.stdout) / MB, 1)}


def load_seconds(metrics: str) -> float | None:
    for line in metrics.splitlines():
        if line.startswith("inferstack_model_load_seconds{"):
            return float(line.rsplit(" ", 1)[1])
    return None


def one_start(
    image: str, timeout_s: float = 120, path: str = "/ping", args: tuple[str, ...] = ("serve",)
) -> dict[str, Any]:
    """Start ``image`` and time it until ``path`` answers 200 (``{port}`` in ``args`` is
    the port it is to listen on; the runtime reads ``SAGEMAKER_BIND_TO_PORT``)."""
    port = free_port()
    started = time.perf_counter()
    cid = docker(
        "run",
        "--detach",
        "--network",
        "host",
        "--env",
        "INFERSTACK_HOST=127.0.0.1",
        "--env",
        f"SAGEMAKER_BIND_TO_PORT={port}",
        *(["--entrypoint", args[0]] if args[0] != "serve" else []),
        image,
        *(a.format(port=port) for a in (args if args[0] == "serve" else args[1:])),
    ).strip()
    try:
        created = time.perf_counter()
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
            while time.perf_counter() - started < timeout_s:
                try:
                    if client.get(path).status_code == 200:
                        ready = time.perf_counter()
                        load = (
                            load_seconds(client.get("/metrics").text) if path == "/ping" else None
                        )
                        return {
                            "ready_s": round(ready - started, 3),
                            "docker_run_s": round(created - started, 3),
                            "model_load_s": load,
                        }
                except httpx.TransportError:
                    pass
                time.sleep(0.01)
        raise SystemExit(f"container {cid[:12]} not ready within {timeout_s} s")
    finally:
        subprocess.run(["docker", "rm", "--force", cid], capture_output=True, check=False)


# What bench/fastapi_baseline.py needs beyond the runtime image (pure Python packages).
BASELINE_PACKAGES = (
    "fastapi",
    "starlette",
    "anyio",
    "idna",
    "sniffio",
    "opentelemetry",  # fastapi's telemetry hooks import its API
    "importlib_metadata",
    "zipp",
)
BASELINE_ARGS = (
    "python",
    "-m",
    "uvicorn",
    "fastapi_baseline:app",
    "--host",
    "127.0.0.1",
    "--port",
    "{port}",
    "--log-level",
    "warning",
)


def baseline_image(image: str, tmp: Path) -> str:
    """``image`` plus fastapi (copied from this interpreter) and the baseline app."""
    import importlib.metadata
    import importlib.util

    context = tmp / "baseline"
    (context / "site").mkdir(parents=True)
    dists = importlib.metadata.packages_distributions()
    for name in BASELINE_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            continue  # not a dependency of this fastapi version
        source = Path(next(iter(spec.submodule_search_locations)))
        ignore = shutil.ignore_patterns("*.pyc", "instrumentation", "sdk", "exporter")
        shutil.copytree(source, context / "site" / name, ignore=ignore)
        for dist in dists.get(name, []):  # entry points (opentelemetry's context) need these
            meta = importlib.metadata.distribution(dist)
            found = getattr(meta, "_path", None)
            if found is not None and Path(found).is_dir():
                shutil.copytree(found, context / "site" / Path(found).name)
    shutil.copy(ROOT / "bench" / "fastapi_baseline.py", context / "site")
    (context / "Dockerfile").write_text(
        f"FROM {image}\n"
        "USER root\n"
        "COPY site /opt/baseline\n"
        "ENV PYTHONPATH=/opt/baseline INFERSTACK_BENCH_BUNDLE=/opt/ml/model\n"
        # compiled as the runtime's own modules are, so neither compiles at start
        "RUN python -m compileall -q /opt/baseline\n"
        "USER 10001:10001\n"
    )
    tag = "inferstack/bench-fastapi:" + image.rsplit(":", 1)[-1]
    docker("build", "--network", "host", "--tag", tag, str(context))
    return tag


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds process ``pid`` has used (all its threads); None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_start(
    cmd: list[str], path: str, port: int, timeout_s: float = 60, extra: dict[str, str] | None = None
) -> tuple[float, float | None]:
    """Seconds from spawning ``cmd`` until ``path`` on ``port`` answers 200, and the CPU
    seconds the process had used by then (steadier than wall time on a busy machine)."""
    env = {
        **os.environ,
        **(extra or {}),
        "INFERSTACK_HOST": "127.0.0.1",
        "INFERSTACK_PORT": str(port),
        "INFERSTACK_LOG_LEVEL": "warning",
        "INFERSTACK_BENCH_BUNDLE": str(BUNDLE),
    }
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=2) as client:
            while time.perf_counter() - started < timeout_s:
                try:
                    if client.get(path).status_code == 200:
                        took = round(time.perf_counter() - started, 3)
                        cpu = cpu_seconds(proc.pid)
                        return took, None if cpu is None else round(cpu, 2)
                except httpx.TransportError:
                    pass
                if proc.poll() is not None:
                    raise SystemExit(f"{cmd} exited with {proc.returncode}")
                time.sleep(0.005)
        raise SystemExit(f"{cmd} not ready within {timeout_s} s")
    finally:
        proc.terminate()
        proc.wait(20)


def processes(runs: int, ref: str | None, tmp: Path) -> None:
    """``--process``: the runtime's process against the FastAPI app's, alternated (and,
    with ``ref``, against the runtime as committed at ``ref``)."""
    python = sys.executable
    serve = [python, "-m", "inferstack.runtime", "serve", str(BUNDLE)]
    servers: dict[str, tuple[Callable[[int], list[str]], str, dict[str, str]]] = {
        "inferstack": (lambda port: serve, "/ping", {}),
        "fastapi": (
            lambda port: [
                python,
                "-m",
                "uvicorn",
                "bench.fastapi_baseline:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            "/openapi.json",
            {},
        ),
    }
    if ref is not None:
        old = {"PYTHONPATH": str(runtime_at(ref, tmp / "ref"))}
        servers[f"inferstack at {ref}"] = (lambda port: serve, "/ping", old)
    times: dict[str, list[float]] = {name: [] for name in servers}
    cpus: dict[str, list[float]] = {name: [] for name in servers}
    for n in range(runs + 1):
        for name, (cmd, path, extra) in servers.items():
            port = free_port()
            took, cpu = process_start(cmd(port), path, port, extra=extra)
            if n:  # the first round warms the page cache
                times[name].append(took)
                if cpu is not None:
                    cpus[name].append(cpu)
    result: dict[str, Any] = {
        name: {
            "median": statistics.median(t),
            "min": min(t),
            "max": max(t),
            "runs": t,
            "cpu_s": _summary(cpus[name]),
        }
        for name, t in times.items()
    }
    result["load"] = {"avg": list(os.getloadavg())}
    out = RESULTS.with_name("coldstart-process.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


def _summary(values: list[float]) -> dict[str, Any] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "runs": values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", help="image to measure (default: build the quickstart one)")
    parser.add_argument("--base-image", default=None, help="base image for the build")
    parser.add_argument("--network", default="host", help="build network")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--no-baseline", action="store_true", help="containers: skip the FastAPI container"
    )
    parser.add_argument(
        "--process", action="store_true", help="processes on this machine, against FastAPI"
    )
    parser.add_argument(
        "--runtime-ref",
        default=None,
        help="with --process: also start the runtime as committed at this git ref, alternated",
    )
    args = parser.parse_args()
    if args.process:
        with tempfile.TemporaryDirectory(prefix="inferstack-coldstart-") as tmp:
            processes(args.runs, args.runtime_ref, Path(tmp))
        return
    image = args.image
    if image is None:
        from inferstack.components.image.build import build_image

        image = build_image(BUNDLE, base_image=args.base_image, network=args.network)
    starts: dict[str, tuple[str, str, tuple[str, ...]]] = {
        "inferstack": (image, "/ping", ("serve",))
    }
    if not args.no_baseline:
        with tempfile.TemporaryDirectory(prefix="inferstack-coldstart-") as tmp:
            base = baseline_image(image, Path(tmp))
        starts["fastapi"] = (base, "/openapi.json", BASELINE_ARGS)
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in starts}
    for n in range(args.runs + 1):  # alternated; the first round warms the page cache
        for name, (img, path, argv) in starts.items():
            took = one_start(img, path=path, args=argv)
            if n:
                runs[name].append(took)
    ready = {name: [r["ready_s"] for r in found] for name, found in runs.items()}
    result = {
        "image": image,
        "base_image": json.loads(docker("image", "inspect", image))[0]["Config"]["Labels"].get(
            "org.opencontainers.image.base.name", args.base_image or "python:3.11-slim"
        ),
        "size": image_size(image),
        "cold_start_s": {
            name: {"median": statistics.median(r), "min": min(r), "max": max(r)}
            for name, r in ready.items()
        },
        "runs": runs,
        "load": {"before": list(load_before), "after": list(os.getloadavg())},
        "host": {
            "cpus": subprocess.run(
                ["nproc"], capture_output=True, text=True, check=False
            ).stdout.strip(),
            "kernel": platform.release(),
        },
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
