"""`docker:index/network:Network` and `docker:index/volume:Volume` on the real engine."""

from __future__ import annotations

from typing import Any

from inferstack.components.testing.docker.engine import DockerMirrorError, Engine

_NETWORK_INPUTS = {"name", "driver", "labels", "internal", "attachable", "options"}
_VOLUME_INPUTS = {"name", "driver", "labels", "driverOpts"}


def _labels(inputs: dict[str, Any]) -> dict[str, str]:
    return {label["label"]: label["value"] for label in inputs.get("labels") or []}


def _known(kind: str, inputs: dict[str, Any], known: set[str]) -> None:
    unknown = set(inputs) - known
    if unknown:
        raise DockerMirrorError(
            f"{kind} {inputs.get('name')}: the docker mirror does not map {sorted(unknown)}"
        )


def create_network(engine: Engine, inputs: dict[str, Any]) -> str:
    """Create the declared network (a bridge unless another driver is declared); its id."""
    _known("network", inputs, _NETWORK_INPUTS)
    body = {
        "Name": inputs["name"],
        "Driver": inputs.get("driver") or "bridge",
        "Labels": _labels(inputs),
        "Internal": bool(inputs.get("internal")),
        "Attachable": bool(inputs.get("attachable")),
        "Options": inputs.get("options") or {},
        "CheckDuplicate": True,
    }
    return str(engine.request("POST", "/networks/create", body)["Id"])


def remove_network(engine: Engine, network_id: str) -> None:
    """Remove the network; gone is fine."""
    engine.request("DELETE", f"/networks/{network_id}", ok_missing=True)


def create_volume(engine: Engine, inputs: dict[str, Any]) -> str:
    """Create the declared named volume; its name (the engine's id for volumes)."""
    _known("volume", inputs, _VOLUME_INPUTS)
    # The engine returns an existing volume of the same name as if it had made it; the
    # mirror must not adopt (and later remove) a volume it did not create.
    if engine.request("GET", f"/volumes/{inputs['name']}", ok_missing=True) is not None:
        raise DockerMirrorError(f"volume {inputs['name']} exists already on this engine")
    body = {
        "Name": inputs["name"],
        "Driver": inputs.get("driver") or "local",
        "DriverOpts": inputs.get("driverOpts") or {},
        "Labels": _labels(inputs),
    }
    return str(engine.request("POST", "/volumes/create", body)["Name"])


def remove_volume(engine: Engine, name: str) -> None:
    """Remove the volume; gone is fine."""
    engine.request("DELETE", f"/volumes/{name}", ok_missing=True)
