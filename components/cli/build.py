"""`inferstack build BUNDLE_DIR`: the runtime image for a bundle, with progress.

After the build it proves the image (`verify_image`): it starts it on 127.0.0.1,
waits for readiness, sends the bundle's probe rows and checks the answer, and removes
the container; only then does it report success (`--no-verify` skips this). The last
lines of the build log, or the container's log, are printed when either fails.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from inferstack.components.cli.output import err_console as console
from inferstack.components.cli.output import fail
from inferstack.components.image.build import build_image
from inferstack.components.image.context import ImageError, read_bundle_manifest
from inferstack.components.image.install import check_extras
from inferstack.components.image.verify import READY_TIMEOUT_S, verify_image

_LEGACY_STEP = re.compile(r"^Step (\d+)/(\d+) : (.*)")
_BUILDKIT_STEP = re.compile(r"^#\d+ \[([^\]]+)\] (.*)")
_BUILDKIT_FRACTION = re.compile(r"(\d+)/(\d+)$")


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
        bool,
        typer.Option("--gpu", help="CUDA base image and the GPU build of the bundle's framework."),
    ] = False,
    base_image: Annotated[
        str | None, typer.Option(help="Base image instead of the flavour's default.")
    ] = None,
    network: Annotated[str | None, typer.Option(help="Build network, e.g. host.")] = None,
    requirement: Annotated[
        list[str] | None,
        typer.Option(
            "--requirement",
            help="A pip requirement to install beside the bundle's own (repeatable).",
        ),
    ] = None,
    extra: Annotated[
        list[str] | None,
        typer.Option(
            "--extra",
            help="An inferstack extra to install in the image (repeatable): capture-s3, "
            "capture-gcs or capture-azure for data capture to that store, batch for batch "
            "jobs (GKE Jobs), azureml-batch for Azure ML batch endpoints (batch plus "
            "azureml-core, which their batch driver needs).",
        ),
    ] = None,
    verify: Annotated[
        bool,
        typer.Option(
            help="Start the built image on 127.0.0.1 and check it answers the probe rows."
        ),
    ] = True,
    ready_timeout: Annotated[
        float, typer.Option(help="Seconds the verified container has to become ready.")
    ] = READY_TIMEOUT_S,
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
            manifest = read_bundle_manifest(bundle_dir)
            image = build_image(
                bundle_dir,
                tag,
                gpu=gpu,
                base_image=base_image,
                network=network,
                requirements=requirement or (),
                extras=_image_extras(extra or ()),
                on_line=show,
            )
            if verify:
                progress.update(
                    task, description="verifying: starting the image", completed=0, total=None
                )
                checked = verify_image(image, manifest, ready_timeout)
        except ImageError as err:
            raise fail(str(err)) from None
    console.print(f"[bold green]built[/] {image}")
    if verify:
        console.print(
            f"[bold green]verified[/]: ready in {checked.ready_seconds:.1f} s, "
            f"{checked.rows} probe rows answered on /invocations",
            highlight=False,
        )
    console.print(f"run it: docker run --rm -p 127.0.0.1:8080:8080 {image}", highlight=False)
    print(image)


IMAGE_EXTRAS = (
    "azureml-batch",
    "batch",
    "capture-azure",
    "capture-gcs",
    "capture-s3",
    "explain",
    "grpc",
)
"""The inferstack extras a runtime image can hold beside its framework's."""


def _image_extras(extras: Sequence[str]) -> tuple[str, ...]:
    unknown = sorted(set(extras) - set(IMAGE_EXTRAS))
    if unknown:
        raise ImageError(
            f"--extra {', '.join(unknown)}: not an image extra; one of {', '.join(IMAGE_EXTRAS)}"
        )
    return check_extras(extras)


def register(app: typer.Typer) -> None:
    """Add `build` to the CLI."""
    app.command()(build)
