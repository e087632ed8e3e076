"""Computed outputs of the runtime image build (`docker.Image`) for the offline plan."""

from __future__ import annotations

from typing import Any

import pulumi

from inferstack.components.plan.mocks import ResourceFake, digest


def _docker_image(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    name = args.inputs.get("imageName", args.name)
    return {"repoDigest": f"{name}@sha256:{digest('image', name)}", "imageName": name}


RESOURCE_FAKES: dict[str, ResourceFake] = {"docker:index/image:Image": _docker_image}
CALL_FAKES: dict[str, Any] = {}
