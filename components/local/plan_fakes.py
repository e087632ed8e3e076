"""Computed outputs of the local target's Docker resources for the offline plan.

`PlanMocks` echoes inputs; a pulled image's id is computed by the provider, so
this fake supplies one (`sha256:` of the image name) with the digest beside it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi

from inferstack.components.plan.mocks import register_fake


def _remote_image(args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    name = str(args.inputs.get("name", args.name))
    digest = hashlib.sha256(name.encode()).hexdigest()
    return {"imageId": f"sha256:{digest}", "repoDigest": f"{name.split(':')[0]}@sha256:{digest}"}


register_fake("docker:index/remoteImage:RemoteImage", _remote_image)
