"""Building the runtime image for a bundle with the local Docker engine, without Pulumi.

The same context, Dockerfile and tag as the `RuntimeImage` component. `build_image`
reports each line of the build to a callback; the `inferstack build` command shows them
as progress, then proves the image with `verify.verify_image`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from inferstack.components.image.context import (
    ImageError,
    flavor,
    plan_build,
    read_bundle_manifest,
)


def docker_env() -> dict[str, str]:
    """The environment for `docker build`: the classic builder when buildx is missing."""
    env = dict(os.environ)
    if "DOCKER_BUILDKIT" not in env:
        probe = subprocess.run(["docker", "buildx", "version"], capture_output=True, check=False)
        if probe.returncode != 0:
            env["DOCKER_BUILDKIT"] = "0"
    return env


def build_image(
    bundle_dir: Path,
    tag: str | None = None,
    *,
    gpu: bool = False,
    base_image: str | None = None,
    network: str | None = None,
    requirements: Sequence[str] = (),
    extras: Sequence[str] = (),
    on_line: Callable[[str], None] | None = None,
) -> str:
    """Build the image for `bundle_dir` and return its reference; `ImageError` on failure.

    `requirements` are pip requirements added to the bundle's own (see `install`);
    `extras` are inferstack extras installed beside the framework's (`capture-azure`,
    `batch`).
    """
    if shutil.which("docker") is None:
        raise ImageError("the `docker` command is not on PATH")
    manifest = read_bundle_manifest(bundle_dir)
    plan = plan_build(
        bundle_dir,
        manifest.name,
        manifest.version,
        flavor(gpu, base_image),
        requirements=requirements,
        extras=extras,
    )
    image = tag or f"inferstack/{manifest.name}:{plan.tag}"
    argv = plan.docker_command(image, network)
    env = docker_env()
    if env.get("DOCKER_BUILDKIT") != "0":
        argv.insert(2, "--progress=plain")
    tail: deque[str] = deque(maxlen=60)
    with subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line.rstrip())
            if on_line:
                on_line(line.rstrip())
    if proc.returncode != 0:
        raise ImageError(_build_failure(proc.returncode, list(tail)))
    return image


def _build_failure(code: int, tail: list[str]) -> str:
    """The message of a failed build: pip's errors first (they name the package)."""
    errors = [line for line in tail if "ERROR:" in line or "inferstack: pip" in line]
    head = f"docker build failed (exit {code})"
    if errors:
        head += ":\n" + "\n".join(dict.fromkeys(errors))
    return head + "\nlast lines of the build:\n" + "\n".join(tail)
