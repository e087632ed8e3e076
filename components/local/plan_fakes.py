"""Computed outputs of the local target's Docker resources for the offline plan.

`PlanMocks` echoes inputs; a pulled image's id and a container's id are computed by
the provider, so these fakes supply them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi

from inferstack.components.plan.mocks import ResourceFake, digest


def _remote_image(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    name = str(args.inputs.get("name", args.name))
    image_digest = hashlib.sha256(name.encode()).hexdigest()
    return {
        "imageId": f"sha256:{image_digest}",
        "repoDigest": f"{name.split(':')[0]}@sha256:{image_digest}",
    }


def _docker_container(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    return {"id": digest("container", args.name)[:12], "networkDatas": []}


RESOURCE_FAKES: dict[str, ResourceFake] = {
    "docker:index/remoteImage:RemoteImage": _remote_image,
    "docker:index/container:Container": _docker_container,
}
CALL_FAKES: dict[str, Any] = {}
