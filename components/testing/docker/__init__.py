"""The docker provider's test mirror: Pulumi mocks that build and run, on the local
Docker engine, the images, containers, networks and volumes a program declares.

    mocks = DockerMocks(build_args={"BASE_IMAGE": "inferstack/base:bookworm"})
    try:
        plan = run_stack(root, "local-test", config, mocks)
        ...  # call the containers on their declared 127.0.0.1 ports
    finally:
        mocks.destroy()

See `mocks` for what is mirrored and how replacements happen, and docs/delivery.md.
"""

from __future__ import annotations

from inferstack.components.testing.docker.engine import DockerMirrorError, Engine
from inferstack.components.testing.docker.mocks import Created, DockerMocks, NotRun, Replacement
from inferstack.components.testing.docker.program import run_stack

__all__ = [
    "Created",
    "DockerMirrorError",
    "DockerMocks",
    "Engine",
    "NotRun",
    "Replacement",
    "run_stack",
]
