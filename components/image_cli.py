"""`inferstack build BUNDLE_DIR`: the runtime image for a bundle, built by the Docker engine.

For users who want only the image (no Pulumi). The same context, Dockerfile and
tag as the `RuntimeImage` component; progress is shown with rich, and the full
build log is printed when the build fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from inferstack.components.image_context import ImageError, flavor, plan_build

console = Console(stderr=True)
_LEGACY_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)")
_BUILDKIT_STEP = re.compile(r"^#\d+ \[([^\]]+)\] (.*)")
_BUILDKIT_FRACTION = re.compile(r"(\d+)/(\d+)$")


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
    on_line: Callable[[str], None] | None = None,
) -> str:
    """Build the image for `bundle_dir` and return its reference; `ImageError` on failure."""
    if shutil.which("docker") is None:
        raise ImageError("the `docker` command is not on PATH")
    from inferstack.runtime.errors import BundleError
    from inferstack.runtime.manifest import read_manifest

    try:
        manifest = read_manifest(bundle_dir)
    except BundleError as err:
        raise ImageError(str(err)) from err
    plan = plan_build(bundle_dir, manifest.name, manifest.version, flavor(gpu, base_image))
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
        raise ImageError(
            f"docker build failed (exit {proc.returncode}); last lines:\n" + "\n".join(tail)
        )
    return image


def build(
    bundle_dir: Annotated[
        Path,
        typer.Argument(
            help="Model bundle folder (with inferstack.yaml).", exists=True, file_okay=False
        ),
    ],
    tag: Annotated[
        str | None,
        typer.Option(help="Image reference; default inferstack/<model>:<version>-<content hash>."),
    ] = None,
    gpu: Annotated[
        bool, typer.Option("--gpu", help="CUDA base image, GPU builds of onnxruntime and torch.")
    ] = False,
    base_image: Annotated[
        str | None, typer.Option(help="Base image instead of the flavour's default.")
    ] = None,
    network: Annotated[str | None, typer.Option(help="Build network, e.g. host.")] = None,
) -> None:
    """Build the runtime image for a model bundle with the local Docker engine."""
    columns = (
        TextColumn("[bold blue]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("preparing the build context", total=None)

        def show(line: str) -> None:
            legacy = _LEGACY_STEP.match(line)
            if legacy:
                progress.update(
                    task,
                    completed=int(legacy[1]) - 1,
                    total=int(legacy[2]),
                    description=legacy[3][:60],
                )
                return
            kit = _BUILDKIT_STEP.match(line)
            if kit:
                fraction = _BUILDKIT_FRACTION.search(kit[1])
                if fraction:
                    progress.update(task, completed=int(fraction[1]) - 1, total=int(fraction[2]))
                progress.update(task, description=f"[{kit[1]}] {kit[2]}"[:60])

        try:
            image = build_image(
                bundle_dir, tag, gpu=gpu, base_image=base_image, network=network, on_line=show
            )
        except ImageError as err:
            console.print(f"[bold red]error:[/] {err}", highlight=False, markup=False)
            raise typer.Exit(1) from None
    console.print(f"[bold green]built[/] {image}")
    console.print(f"run it: docker run --rm -p 127.0.0.1:8080:8080 {image}", highlight=False)
    print(image)


def register(app: typer.Typer) -> None:
    """Add `build` to the CLI."""
    app.command()(build)
