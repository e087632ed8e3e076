"""The instance group's user data and drain agent: the rendered scripts pass `bash -n` and
shellcheck, and the agent drains a real runtime process on 127.0.0.1 on a simulated spot
interruption (a fake IMDSv2 service) without losing a request in flight."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from inferstack.components.aws.group_drain import DRAIN_SCRIPT
from inferstack.components.aws.group_user_data import (
    MAX_USER_DATA_BYTES,
    UserDataArgs,
    UserDataError,
    render_user_data,
)
from inferstack.runtime import bundle
from tests.runtime.server import RuntimeServer, metric_value
from tests.tools import require_tool

ARGS = UserDataArgs(
    region="us-east-1",
    image_uri="123456789012.dkr.ecr.us-east-1.amazonaws.com/inferstack/churn-prod:1.2.0-abc",
    model_data_url="s3://churn-artifacts/models/churn/1.2.0/model.tar.gz",
    log_group="/inferstack/churn-prod/containers",
    target_group_arn="arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/abc",
    asg_name="churn-prod",
    hook_name="drain",
    launch_hook_name="launch",
    drain_s=25,
    stop_timeout_s=30,
    deregistration_delay_s=30,
    metrics_namespace="inferstack",
    environment=(("INFERSTACK_LOG_LEVEL", "info"),),
)


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.mark.parametrize("which", ["user-data", "drain-agent"])
def test_scripts_pass_bash_n_and_shellcheck(tmp_path: Path, which: str) -> None:
    text = render_user_data(ARGS) if which == "user-data" else DRAIN_SCRIPT
    script = _write(tmp_path / f"{which}.sh", text)
    subprocess.run(["bash", "-n", str(script)], check=True)
    shellcheck = require_tool("shellcheck")
    found = subprocess.run(
        [str(shellcheck), "--shell=bash", str(script)], capture_output=True, text=True
    )
    assert found.returncode == 0, found.stdout


def test_the_user_data_starts_the_pushed_image_on_the_gpu_with_the_bundle() -> None:
    text = render_user_data(ARGS)
    assert f"docker pull {ARGS.image_uri}" in text
    assert "--gpus all" in text
    assert f"{ARGS.image_uri} serve" in text
    assert f"aws s3 cp --region us-east-1 {ARGS.model_data_url}" in text
    assert "/opt/inferstack/model:/opt/ml/model:ro" in text
    assert "--stop-timeout 30" in text
    assert "INFERSTACK_TIMEOUT_GRACEFUL_SHUTDOWN_S=25" in text
    # The agent script goes in verbatim (a quoted here-document: nothing expanded).
    assert DRAIN_SCRIPT in text


class FakeImds:
    """IMDSv2 on 127.0.0.1: a token from PUT, and metadata reads that need it."""

    TOKEN = "imds-token"

    def __init__(self) -> None:
        self.values: dict[str, str] = {"instance-id": "i-0123456789abcdef0"}
        self.tokenless_reads = 0
        imds = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                ok = self.path == "/latest/api/token"
                self._answer(200 if ok else 404, imds.TOKEN if ok else "")

            def do_GET(self) -> None:
                if self.headers.get("X-aws-ec2-metadata-token") != imds.TOKEN:
                    imds.tokenless_reads += 1
                    self._answer(401, "")
                    return
                key = self.path.removeprefix("/latest/meta-data/")
                value = imds.values.get(key)
                self._answer(200 if value is not None else 404, value or "")

            def _answer(self, status: int, body: str) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeImds:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()


NAP = """
import time

class Nap:
    def predict(self, x):
        time.sleep(0.25)
        return x.sum(axis=1)
"""

# `aws` records its arguments; `docker stop --time N` sends SIGTERM to the runtime's
# process and waits up to N s for it to exit, as Docker does for a container.
AWS_SHIM = """#!/bin/bash
echo "aws $*" >> "$CALLS"
"""
DOCKER_SHIM = """#!/bin/bash
echo "docker $*" >> "$CALLS"
[ "$1" = stop ] || exit 1
pid="$(cat "$RUNTIME_PID")"
kill -TERM "$pid"
for _ in $(seq 1 $(($3 * 10))); do
  kill -0 "$pid" 2>/dev/null || exit 0
  sleep 0.1
done
kill -KILL "$pid"
"""


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[RuntimeServer]:
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
    server = RuntimeServer(path, tmp_path, env=env).start()
    try:
        yield server
    finally:
        server.stop()


def _accepted(server: RuntimeServer) -> tuple[float, float]:
    metrics = server.get("/metrics").text
    in_flight = metric_value(metrics, "inferstack_inflight_requests") - 1  # this request
    done = metric_value(metrics, "inferstack_requests_total", route="/predict")
    return in_flight, in_flight + done


def test_a_spot_notice_drains_the_runtime_without_losing_a_request(
    tmp_path: Path, runtime: RuntimeServer
) -> None:
    assert runtime.proc is not None
    calls = tmp_path / "calls.log"
    (tmp_path / "runtime.pid").write_text(str(runtime.proc.pid))
    env_file = tmp_path / "drain.env"
    env_file.write_text(
        "REGION=us-east-1\nTARGET_GROUP_ARN=arn:tg\nASG_NAME=churn-prod\nHOOK_NAME=drain\n"
        "CONTAINER=inferstack\nPORT=8080\nDEREGISTRATION_DELAY_S=1\nSTOP_TIMEOUT_S=30\n"
        "NAMESPACE=inferstack\n"
    )
    results: dict[int, object] = {}

    def call(i: int) -> None:
        try:
            r = httpx.post(
                runtime.url + "/predict", json={"instances": [[float(i), 1.0]]}, timeout=60
            )
            results[i] = r.status_code
        except httpx.HTTPError as err:
            results[i] = err

    with FakeImds() as imds:
        env = {
            "PATH": "/usr/bin:/bin",
            "DRAIN_ENV": str(env_file),
            "IMDS": imds.url,
            "AWS": str(_write(tmp_path / "aws", AWS_SHIM)),
            "DOCKER": str(_write(tmp_path / "docker", DOCKER_SHIM)),
            "POLL_S": "0.1",
            "CALLS": str(calls),
            "RUNTIME_PID": str(tmp_path / "runtime.pid"),
        }
        script = _write(tmp_path / "inferstack-drain", DRAIN_SCRIPT)
        agent = subprocess.Popen([str(script)], env=env, stderr=subprocess.PIPE, text=True)
        threads = [threading.Thread(target=call, args=(i,)) for i in range(24)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 20
        in_flight, accepted = 0.0, 0.0
        while time.monotonic() < deadline and accepted < 24:
            in_flight, accepted = _accepted(runtime)
            time.sleep(0.02)
        assert accepted >= 24, f"only {accepted} of 24 requests reached the runtime"
        assert in_flight > 0, "nothing was in flight to drain"
        # The notice: EC2 reclaims the instance in two minutes.
        imds.values["spot/instance-action"] = '{"action": "terminate", "time": "2026-12-01"}'
        for t in threads:
            t.join(30)
        assert runtime.proc.wait(30) == 0, runtime.logs()
        # Then the group terminates it and holds it in the termination hook.
        imds.values["autoscaling/target-lifecycle-state"] = "Terminated"
        try:
            _, errors = agent.communicate(timeout=30)
        finally:
            if agent.poll() is None:
                agent.kill()
        tokenless = imds.tokenless_reads

    assert agent.returncode == 0, errors
    assert tokenless == 0, "the agent read metadata without an IMDSv2 token"
    assert results == dict.fromkeys(range(24), 200), results
    lines = calls.read_text().splitlines()
    order = [
        next(i for i, line in enumerate(lines) if what in line)
        for what in (
            "SpotInterruptionNotices",
            "elbv2 deregister-targets",
            "elbv2 wait target-deregistered",
            "docker stop --time 30 inferstack",
            "autoscaling complete-lifecycle-action",
        )
    ]
    assert order == sorted(order), lines
    assert "--targets Id=i-0123456789abcdef0,Port=8080" in lines[order[1]]
    assert "--lifecycle-action-result CONTINUE" in lines[order[4]]


def test_the_user_data_fits_ec2s_limit_at_the_longest_values() -> None:
    # ECR: a 256-character repository name and a 128-character tag; long ARNs and names.
    longest = replace(
        ARGS,
        image_uri=f"123456789012.dkr.ecr.us-gov-west-1.amazonaws.com/{'r' * 256}:{'t' * 128}",
        model_data_url=f"s3://{'b' * 63}/models/{'m' * 40}/{'9' * 20}/model.tar.gz",
        log_group=f"/inferstack/{'e' * 63}/containers",
        target_group_arn="arn:aws-us-gov:elasticloadbalancing:us-gov-west-1:123456789012:"
        f"targetgroup/{'t' * 32}/{'0' * 16}",
        asg_name="a" * 255,
        hook_name="h" * 255,
    )
    assert len(render_user_data(longest).encode()) <= MAX_USER_DATA_BYTES


def test_user_data_over_the_limit_is_refused_with_its_size() -> None:
    big = replace(ARGS, environment=(("INFERSTACK_PAD", "x" * MAX_USER_DATA_BYTES),))
    with pytest.raises(UserDataError, match=r"over EC2's 16384"):
        render_user_data(big)
