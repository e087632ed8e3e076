"""`docker:index/container:Container` on the real engine, from its declared inputs.

`container_config` turns the provider's inputs into the Engine API's create body, field
by field; an input the mirror does not know is an error naming it, never dropped. Then
the container is created, its `uploads` are written into it, it is started and, with
`wait`, polled until its health check says healthy (as the provider does). Removal
stops it with `destroy_grace_seconds` (SIGTERM, then that long to drain) and removes
it, as the provider does on a replacement or `pulumi destroy`.
"""

from __future__ import annotations

import base64
import io
import re
import tarfile
import time
from typing import Any

from inferstack.components.testing.docker.engine import DockerMirrorError, Engine

# Inputs the mirror maps onto the engine (see container_config), and those that only
# steer the provider itself (how long to wait, what to keep).
MAPPED = {
    "name",
    "image",
    "envs",
    "user",
    "command",
    "entrypoints",
    "workingDir",
    "ports",
    "networksAdvanced",
    "networkMode",
    "restart",
    "healthcheck",
    "labels",
    "volumes",
    "stopSignal",
    "stopTimeout",
    "gpus",
    "uploads",
}
PROVIDER_ONLY = {"wait", "waitTimeout", "destroyGraceSeconds", "mustRun", "start"}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")
_UNIT_NS = {"h": 3600e9, "m": 60e9, "s": 1e9, "ms": 1e6, "us": 1e3, "ns": 1.0}


def duration_ns(value: str) -> int:
    """A Go duration (`1m0s`, `10s`, `500ms`) in nanoseconds, as the API wants it."""
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise DockerMirrorError(f"healthcheck: {value!r} is not a Go duration")
    return int(sum(float(n) * _UNIT_NS[u] for n, u in parts))


def _ports(ports: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    exposed: dict[str, Any] = {}
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in ports:
        key = f"{int(port['internal'])}/{port.get('protocol') or 'tcp'}"
        exposed[key] = {}
        if port.get("external"):
            bindings.setdefault(key, []).append(
                {"HostIp": port.get("ip") or "0.0.0.0", "HostPort": str(int(port["external"]))}  # noqa: S104  (the provider's default when no ip is declared)
            )
    return exposed, bindings


def _mounts(volumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    mounts = []
    for volume in volumes:
        source = volume.get("volumeName") or volume.get("hostPath")
        if not source or not volume.get("containerPath"):
            raise DockerMirrorError(f"volumes: {volume} names no source or container path")
        mounts.append(
            {
                "Type": "volume" if volume.get("volumeName") else "bind",
                "Source": source,
                "Target": volume["containerPath"],
                "ReadOnly": bool(volume.get("readOnly")),
            }
        )
    return mounts


def container_config(inputs: dict[str, Any]) -> dict[str, Any]:
    """The Engine API body of `POST /containers/create` for the declared inputs."""
    unknown = set(inputs) - MAPPED - PROVIDER_ONLY
    if unknown:
        raise DockerMirrorError(
            f"container {inputs.get('name')}: the docker mirror does not map {sorted(unknown)}"
        )
    exposed, bindings = _ports(inputs.get("ports") or [])
    networks = inputs.get("networksAdvanced") or []
    host: dict[str, Any] = {
        "PortBindings": bindings,
        "RestartPolicy": {"Name": inputs.get("restart") or "no"},
        "Mounts": _mounts(inputs.get("volumes") or []),
        "NetworkMode": networks[0]["name"] if networks else inputs.get("networkMode", "default"),
    }
    if inputs.get("gpus"):
        host["DeviceRequests"] = [{"Count": -1, "Capabilities": [["gpu"]]}]
    config: dict[str, Any] = {
        "Image": inputs["image"],
        "Env": list(inputs.get("envs") or []),
        "ExposedPorts": exposed,
        "Labels": {label["label"]: label["value"] for label in inputs.get("labels") or []},
        "HostConfig": host,
    }
    for key, field in (
        ("user", "User"),
        ("command", "Cmd"),
        ("entrypoints", "Entrypoint"),
        ("workingDir", "WorkingDir"),
        ("stopSignal", "StopSignal"),
    ):
        if inputs.get(key):
            config[field] = inputs[key]
    if inputs.get("stopTimeout") is not None:
        config["StopTimeout"] = int(inputs["stopTimeout"])
    check = inputs.get("healthcheck")
    if check:
        config["Healthcheck"] = {
            "Test": list(check["tests"]),
            "Interval": duration_ns(check.get("interval") or "0s"),
            "Timeout": duration_ns(check.get("timeout") or "0s"),
            "StartPeriod": duration_ns(check.get("startPeriod") or "0s"),
            "Retries": int(check.get("retries") or 0),
        }
    if networks:
        config["NetworkingConfig"] = {
            "EndpointsConfig": {networks[0]["name"]: {"Aliases": networks[0].get("aliases") or []}}
        }
    return config


def _upload_archive(uploads: list[dict[str, Any]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for upload in uploads:
            if upload.get("contentBase64"):
                data = base64.b64decode(upload["contentBase64"])
            else:
                data = str(upload.get("content", "")).encode()
            info = tarfile.TarInfo(upload["file"].lstrip("/"))
            info.size = len(data)
            info.mode = 0o755 if upload.get("executable") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def create_container(engine: Engine, inputs: dict[str, Any]) -> str:
    """Create, upload into, start and (with `wait`) wait for the container; its id."""
    config = container_config(inputs)
    created = engine.request("POST", "/containers/create", config, query={"name": inputs["name"]})
    container_id = str(created["Id"])
    try:
        for network in (inputs.get("networksAdvanced") or [])[1:]:
            engine.request(
                "POST",
                f"/networks/{network['name']}/connect",
                {"Container": container_id, "EndpointConfig": {"Aliases": network.get("aliases")}},
            )
        if inputs.get("uploads"):
            engine.request(
                "PUT",
                f"/containers/{container_id}/archive",
                query={"path": "/"},
                data=_upload_archive(inputs["uploads"]),
            )
        engine.request("POST", f"/containers/{container_id}/start")
        if inputs.get("wait"):
            wait_healthy(engine, container_id, float(inputs.get("waitTimeout") or 60))
    except DockerMirrorError:
        remove_container(engine, container_id, 0)
        raise
    return container_id


def wait_healthy(engine: Engine, container_id: str, timeout_s: float) -> None:
    """Poll until the health check reports healthy (or, without one, running)."""
    deadline = time.monotonic() + timeout_s
    status = "unknown"
    while time.monotonic() < deadline:
        state = engine.request("GET", f"/containers/{container_id}/json")["State"]
        status = (state.get("Health") or {}).get("Status") or state.get("Status", "")
        if status in ("healthy", "running") and state.get("Running"):
            return
        if status == "unhealthy" or state.get("Status") in ("exited", "dead"):
            break
        time.sleep(0.5)
    raise DockerMirrorError(
        f"container {container_id[:12]} is {status}, not healthy within {timeout_s:g} s; "
        f"its log:\n{engine.logs(container_id)}"
    )


def remove_container(engine: Engine, container_id: str, grace_s: float) -> None:
    """Stop (SIGTERM, `grace_s` to drain) and remove the container; gone is fine."""
    engine.request(
        "POST", f"/containers/{container_id}/stop", query={"t": int(grace_s)}, ok_missing=True
    )
    engine.request(
        "DELETE", f"/containers/{container_id}", query={"force": "true"}, ok_missing=True
    )
