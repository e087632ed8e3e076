"""What grpcio alone costs per call on this machine: servers whose handler does nothing.

    .venv/bin/python bench/grpc_floor.py [--duration 4] [--request-bytes 41000]

The runtime's gRPC port answers a 256-row ``ModelInfer`` (about 41 kB in, 4 kB out) with
the server's CPU split by ``bench/runtime.py --large``. This measures the part of it that
is grpcio's: a server pinned to one core whose handler returns a fixed 4 kB answer without
looking at the request, driven by a closed loop of ``c`` grpc.aio calls of the same size
from another core. Four servers: ``grpc.aio`` (what the runtime runs, in its event
loop), the threaded ``grpc.server`` with one worker, and the threaded server handing each
call to an asyncio loop in another thread and waiting for the answer (what serving the
runtime's batcher from a threaded server would add); and ``aio-stream``, a ``grpc.aio``
stream answering each message it reads (``ModelStreamInfer``'s floor: one stream with
``c`` messages in flight). Reported per server and
concurrency: calls/s, the server's CPU per call (from /proc, every thread) and its
utilisation. Results: stdout and bench/results/grpc-floor.json. 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "grpc-floor.json"
METHOD = "/inference.GRPCInferenceService/ModelInfer"
ANSWER = b"\x00" * 4_200
STREAM_METHOD = "/inference.GRPCInferenceService/ModelStreamInfer"
SERVERS = ("aio", "threaded", "threaded+loop", "aio-stream")


def serve(kind: str, port: int) -> None:
    """Run one do-nothing server until killed (the child process's side)."""
    import grpc

    def handlers(handle: Any) -> Any:
        method = grpc.unary_unary_rpc_method_handler(handle)
        return grpc.method_handlers_generic_handler(
            "inference.GRPCInferenceService", {"ModelInfer": method}
        )

    if kind in ("aio", "aio-stream"):

        async def answer(request: bytes, context: Any) -> bytes:
            return ANSWER

        async def answer_each(requests: Any, context: Any) -> None:
            while await context.read() is not grpc.aio.EOF:
                await context.write(ANSWER)

        stream = grpc.method_handlers_generic_handler(
            "inference.GRPCInferenceService",
            {"ModelStreamInfer": grpc.stream_stream_rpc_method_handler(answer_each)},
        )

        async def main() -> None:
            server = grpc.aio.server()
            server.add_generic_rpc_handlers((stream if kind == "aio-stream" else handlers(answer),))
            server.add_insecure_port(f"127.0.0.1:{port}")
            await server.start()
            await server.wait_for_termination()

        asyncio.run(main())
        return
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    async def nothing() -> bytes:
        return ANSWER

    def direct(request: bytes, context: Any) -> bytes:
        return ANSWER

    def hop(request: bytes, context: Any) -> bytes:
        return asyncio.run_coroutine_threadsafe(nothing(), loop).result()

    server = grpc.server(ThreadPoolExecutor(max_workers=1 if kind == "threaded" else 8))
    server.add_generic_rpc_handlers((handlers(direct if kind == "threaded" else hop),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def drive(port: int, c: int, seconds: float, body: bytes, kind: str) -> int:
    """Calls completed by ``c`` clients in a closed loop for ``seconds`` (for
    ``aio-stream``, messages answered on one stream with ``c`` in flight)."""
    import grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        if kind == "aio-stream":
            return await _stream(channel, c, seconds, body)
        call = channel.unary_unary(METHOD)
        await call(body)
        end = time.perf_counter() + seconds
        done = 0

        async def client() -> None:
            nonlocal done
            while time.perf_counter() < end:
                await call(body)
                done += 1

        await asyncio.gather(*(client() for _ in range(c)))
        return done


async def _stream(channel: Any, c: int, seconds: float, body: bytes) -> int:
    stream = channel.stream_stream(STREAM_METHOD)()
    slots = asyncio.Semaphore(c)
    end = time.perf_counter() + seconds
    done = 0

    async def send() -> None:
        while time.perf_counter() < end:
            await slots.acquire()
            await stream.write(body)
        await stream.done_writing()

    async def receive() -> None:
        nonlocal done
        async for _ in stream:
            done += 1
            slots.release()

    await asyncio.gather(send(), receive())
    return done


def measure(kind: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    port = free_port()
    cmd = ["taskset", "-c", str(args.server_core), sys.executable, __file__, "--serve", kind]
    proc = subprocess.Popen([*cmd, "--port", str(port)], cwd=ROOT)
    body = b"\x01" * args.request_bytes
    rows = []
    try:
        time.sleep(1.5)  # grpcio's import and bind
        for c in args.concurrency:
            asyncio.run(drive(port, c, args.warmup, body, kind))
            before, start = cpu_seconds(proc.pid), time.perf_counter()
            calls = asyncio.run(drive(port, c, args.duration, body, kind))
            wall, cpu = time.perf_counter() - start, cpu_seconds(proc.pid) - before
            rows.append(
                {
                    "server": kind,
                    "concurrency": c,
                    "calls_per_s": calls / wall,
                    "server_cpu_us_per_call": cpu / calls * 1e6,
                    "server_utilisation": cpu / wall,
                }
            )
            r = rows[-1]
            print(
                f"  {kind:<14} c={c:<3} {r['calls_per_s']:7.0f} calls/s  server CPU "
                f"{r['server_cpu_us_per_call']:6.1f} us/call  ({r['server_utilisation']:.0%} "
                "of its core)",
                flush=True,
            )
    finally:
        proc.kill()
        proc.wait(5)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--request-bytes", type=int, default=41_000)
    parser.add_argument("--server-core", type=int, default=1)
    parser.add_argument("--client-core", type=int, default=0)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    os.sched_setaffinity(0, {args.client_core})
    load_before = os.getloadavg()
    rows = [row for kind in SERVERS for row in measure(kind, args)]
    result = {
        "request_bytes": args.request_bytes,
        "answer_bytes": len(ANSWER),
        "runs": rows,
        "load": {"before": list(load_before), "after": list(os.getloadavg())},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"load {load_before} -> {os.getloadavg()}; results: {RESULTS}")


if __name__ == "__main__":
    main()
