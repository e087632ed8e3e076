"""`RuntimeImage`: the inference runtime image for one model version.

Built from `runtime/Dockerfile` with the model bundle baked in, tagged
`<model version>-<content hash>` (see `inferstack.components.image.context`), and
pushed to a registry when one is given. The local target keeps it in the local
Docker daemon; the cloud targets pass their registry (ECR, ACR, Artifact
Registry) as an `ImageRegistry`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_docker as docker

from inferstack.components.image.context import (
    BUILD_TARGET,
    flavor,
    plan_build,
    program_staging_dir,
)

LOCAL_REPOSITORY_PREFIX = "inferstack"


@dataclass(frozen=True)
class ImageRegistry:
    """A container registry the image is pushed to."""

    repository_url: pulumi.Input[str]
    """Repository without tag, e.g. `123456789012.dkr.ecr.us-east-1.amazonaws.com/churn`."""
    server: pulumi.Input[str]
    """Registry host the credentials are for, e.g. `123456789012.dkr.ecr.<region>.amazonaws.com`."""
    username: pulumi.Input[str]
    """Registry user name (ECR: `AWS`; ACR: the admin user or a token name)."""
    password: pulumi.Input[str]
    """Registry password or token; treated as a secret."""


@dataclass(frozen=True)
class RuntimeImageArgs:
    """What to build: a bundle, its model identity, the flavour and where to push."""

    bundle_dir: Path
    """The model bundle folder (holding `inferstack.yaml`)."""
    model_name: str
    """Model name, recorded as an image label and used for the local repository name."""
    model_version: str
    """Model version: the tag's prefix and an image label."""
    gpu: bool = False
    """Build the GPU flavour (CUDA base, the GPU build of the bundle's framework)."""
    base_image: str | None = None
    """Another base image than the flavour's default (python:3.11-slim for CPU)."""
    registry: ImageRegistry | None = None
    """Push here; None keeps the image in the local Docker daemon."""
    build_network: str | None = None
    """`docker build --network` value, e.g. `host` on engines without a bridge."""
    requirements: tuple[str, ...] = ()
    """pip requirements installed beside the bundle's framework and its declared
    requirements (one PEP 508 line each); another set is another image tag."""
    extras: tuple[str, ...] = ()
    """inferstack extras installed beside the framework's: the capture sink's SDK
    (`capture-s3`, `capture-gcs`, `capture-azure`, see `install.capture_extra`)."""
    platform: str | None = None
    """`docker build --platform`, e.g. `linux/amd64` for hosts that run only that
    (SageMaker); None builds for the machine's own platform."""


class RuntimeImage(pulumi.ComponentResource):
    """The runtime image for one bundle, built (and pushed) with pulumi-docker."""

    image_ref: pulumi.Output[str]
    """What to run: the local `name:tag`, or the pushed image's `repo@sha256:` digest."""
    tag: pulumi.Output[str]
    """`<model version>-<12 hex of the content hash>`."""

    def __init__(
        self, name: str, args: RuntimeImageArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:image:RuntimeImage", name, None, opts)
        build = plan_build(
            args.bundle_dir,
            args.model_name,
            args.model_version,
            flavor(args.gpu, args.base_image),
            program_staging_dir(),
            requirements=args.requirements,
            extras=args.extras,
        )
        registry = args.registry
        repository: pulumi.Input[str] = (
            registry.repository_url if registry else f"{LOCAL_REPOSITORY_PREFIX}/{args.model_name}"
        )
        image_name = pulumi.Output.concat(repository, ":", build.tag)
        # The child is named by the content hash. For one resource, Pulumi sends the
        # provider the *old* value of every ignore_changes property, so a changed bundle
        # under the same name would be built from the old staged context (old weights,
        # new tag). A new hash is a new resource, created from this build block; the
        # old one is dropped (deleting a docker.Image removes nothing).
        self.image = docker.Image(
            f"{name}-image-{build.digest[:12]}",
            image_name=image_name,
            build=docker.DockerBuildArgs(
                context=str(build.context),
                dockerfile=str(build.dockerfile),
                target=BUILD_TARGET,
                args=build.build_args,
                network=args.build_network,
                platform=args.platform,
            ),
            skip_push=registry is None,
            registry=docker.RegistryArgs(
                server=registry.server,
                username=registry.username,
                password=pulumi.Output.secret(registry.password),
            )
            if registry
            else None,
            # For the same hash the build block is the same on every machine (the
            # context is staged relative to the program's folder), but the engine still
            # hands the provider the stored block: ignoring it keeps an unchanged image
            # from being rebuilt and pushed to an immutable tag again.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["build"]),
        )
        self.tag = pulumi.Output.from_input(build.tag)
        self.image_ref = self.image.repo_digest if registry else self.image.image_name
        self.register_outputs({"image_ref": self.image_ref, "tag": self.tag})
