"""`docker:index/image:Image` and `docker:index/remoteImage:RemoteImage` on the real engine.

An `Image` is built with `docker build` from its declared context, Dockerfile, target
and build arguments; the mirror pushes nowhere (a declared push is refused). Two
deviations, both chosen by the test and recorded on the result: `build_args` replaces
declared build arguments (the base image: no registry is reachable here) and
`network` is the build's network when none is declared (an engine without a default
bridge needs `host` for the build's `RUN pip install`).

A `RemoteImage` is used when the engine has it, else pulled with a bounded time; when
the pull fails it is recorded as unavailable, with the reason, and the containers that
run it are checked on their declared inputs only (`DockerMocks.not_run`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferstack.components.testing.docker.engine import DockerMirrorError, Engine


@dataclass(frozen=True)
class BuiltImage:
    """What the mirror built for one `Image` resource."""

    name: str
    """`repository:tag` as declared (`imageName`)."""
    id: str
    """The engine's image id (`sha256:...`)."""
    build_args: dict[str, str]
    """The build arguments used (declared, with the mirror's replacements)."""
    network: str | None
    """The build's network."""


def build_image(
    engine: Engine,
    inputs: dict[str, Any],
    *,
    build_args: dict[str, str],
    network: str | None,
    timeout_s: float,
) -> BuiltImage:
    """Build the declared image; relative paths are the program's (its working folder)."""
    from inferstack.components.image.build import docker_env

    if inputs.get("skipPush") is False:
        raise DockerMirrorError(f"image {inputs.get('imageName')}: the mirror pushes nowhere")
    build = inputs.get("build") or {}
    context = Path(build.get("context") or ".").resolve()
    if not context.is_dir():
        raise DockerMirrorError(f"image {inputs.get('imageName')}: no build context at {context}")
    args = {**(build.get("args") or {}), **build_args}
    argv = ["build", "--tag", str(inputs["imageName"])]
    if build.get("dockerfile"):
        argv += ["--file", str(Path(build["dockerfile"]).resolve())]
    if build.get("target"):
        argv += ["--target", str(build["target"])]
    if build.get("platform"):
        argv += ["--platform", str(build["platform"])]
    for key, value in sorted(args.items()):
        argv += ["--build-arg", f"{key}={value}"]
    used_network = build.get("network") or network
    if used_network:
        argv += ["--network", used_network]
    engine.cli(*argv, str(context), timeout_s=timeout_s, env=docker_env())
    image_id = engine.cli(
        "image", "inspect", "--format", "{{.Id}}", str(inputs["imageName"]), timeout_s=60
    ).strip()
    return BuiltImage(str(inputs["imageName"]), image_id, args, used_network)


def local_image_id(engine: Engine, name: str) -> str | None:
    """The engine's id of image `name`, or None when it does not have it."""
    found = engine.request("GET", f"/images/{name}/json", ok_missing=True)
    return str(found["Id"]) if found else None


def pull_image(engine: Engine, name: str, timeout_s: float) -> tuple[str | None, str]:
    """(id, "") when the engine has or could pull `name`; (None, why) when not."""
    image_id = local_image_id(engine, name)
    if image_id:
        return image_id, ""
    try:
        engine.cli("pull", name, timeout_s=timeout_s)
    except DockerMirrorError as err:
        return None, f"cannot pull {name}: {str(err).splitlines()[-1]}"
    return local_image_id(engine, name), ""
