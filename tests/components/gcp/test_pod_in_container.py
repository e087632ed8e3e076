"""The runtime image under the pod's own security context, on a real Docker engine.

The flags come from the Deployment the GKE target declares: its user and group, a
read-only root filesystem with the `/tmp` emptyDir as a tmpfs, every capability
dropped, no privilege escalation, seccomp's default profile, and its environment
(host and port moved to a free port on 127.0.0.1). The image must load the bundle,
pass the readiness probe, serve a keyed request and drain on SIGTERM within a spot
node's pod shutdown budget. Skips (fails in CI) without an engine or the base image.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from inferstack.components.gcp import workloads
from inferstack.runtime.auth import hash_key
from inferstack.runtime.contract import Env
from tests.components.gcp.test_pod_contract import KEY, objects, pod_env
from tests.container.conftest import (  # noqa: F401 (fixtures)
    BUNDLE,
    QUICKSTART_REQUIREMENTS,
    base_image,
    docker,
    docker_engine,
    free_port,
)

EXAMPLE = BUNDLE.parent


def docker_flags(deployment: dict[str, Any]) -> list[str]:
    """`docker run` flags for the pod's securityContext and volumes."""
    pod = deployment["spec"]["template"]["spec"]
    context = pod["containers"][0]["securityContext"]
    assert context["capabilities"]["drop"] == ["ALL"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    (mount,) = pod["containers"][0]["volumeMounts"]
    (volume,) = pod["volumes"]
    assert volume["name"] == mount["name"]
    size = volume["emptyDir"]["sizeLimit"].removesuffix("i").lower()
    return [
        "--user", f"{context['runAsUser']}:{context['runAsGroup']}",
        "--read-only",
        "--tmpfs", f"{mount['mountPath']}:rw,size={size}",
        "--cap-drop", "ALL",
        "--security-opt", "no-new-privileges",
    ]  # fmt: skip


def test_the_image_runs_under_the_pods_security_context(base_image: str, tmp_path: Path) -> None:  # noqa: F811
    from inferstack.components.image.build import build_image

    image = build_image(
        BUNDLE, base_image=base_image, network="host", requirements=QUICKSTART_REQUIREMENTS
    )
    found = objects()
    deployment = next(o for o in found if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    port = free_port()
    env = {**pod_env(found, deployment), Env.HOST: "127.0.0.1", Env.PORT: str(port)}
    assert env[Env.API_KEY_HASHES] == hash_key(KEY)
    env_args = [a for k, v in env.items() for a in ("--env", f"{k}={v}")]
    name = f"inferstack-gke-pod-{uuid.uuid4().hex[:10]}"
    run = docker(
        "run", "--detach", "--network", "host", "--name", name,
        *docker_flags(deployment), *env_args, image, "serve", check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    url = f"http://127.0.0.1:{port}"
    try:
        ready = container["readinessProbe"]["httpGet"]["path"]
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + ready, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise AssertionError(docker("logs", "--tail", "40", name, check=False).stderr)
        body = json.loads((EXAMPLE / "request.json").read_text())
        assert httpx.post(url + "/invocations", json=body, timeout=30).status_code == 401
        answer = httpx.post(url + "/invocations", json=body, headers={"X-Api-Key": KEY}, timeout=30)
        assert answer.status_code == 200, answer.text
        started = time.monotonic()
        docker("stop", "--time", str(workloads.SPOT_POD_SHUTDOWN_S), name, timeout=60)
        took = time.monotonic() - started
        state = docker("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
        assert state == "0", docker("logs", "--tail", "40", name, check=False).stderr
        assert took < workloads.SPOT_POD_SHUTDOWN_S - workloads.PRESTOP_S
    finally:
        docker("rm", "--force", name, check=False)
