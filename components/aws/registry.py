"""The ECR repository the runtime image lives in, and the image URI SageMaker pulls."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.artifacts import ArtifactError, variant_artifacts
from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.group_capture import image_extras
from inferstack.components.aws.naming import ECR_REPOSITORY, fit
from inferstack.components.aws.rules import aws_options, group_mode
from inferstack.components.image.component import ImageRegistry, RuntimeImage, RuntimeImageArgs
from inferstack.components.spec.models import DeploymentSpec

_ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[a-z0-9._/-]+)(?::[\w.-]+|@sha256:[0-9a-f]{64})$"
)
UNTAGGED_EXPIRE_DAYS = 14
# SageMaker hosts run x86-64 images only (ml.* instance types here are all amd64): a
# build on an arm64 laptop must not push an arm64 image.
SAGEMAKER_PLATFORM = "linux/amd64"


def ecr_repository_arn(image_uri: str, partition: str) -> str:
    """The ARN of the ECR repository `image_uri` is in; ValueError if it is not ECR."""
    match = _ECR_URI.match(image_uri)
    if not match:
        raise ValueError(
            f"image {image_uri!r} is not an ECR image URI "
            "(<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>); SageMaker pulls from ECR"
        )
    return f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"


def lifecycle_policy() -> dict[str, object]:
    """Expire untagged images only, two weeks after their push.

    A Model names its image by digest, and SageMaker pulls it again whenever it starts an
    instance (scale-out, replacement, rollback), so an image a live Model uses must never
    expire. Count rules ("keep the last N") cannot know which ones those are, so tagged
    images, every image the stack pushed (tags are immutable), stay until removed by hand
    (docs/aws.md: "Image repository").
    """
    return {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"expire untagged images after {UNTAGGED_EXPIRE_DAYS} days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": UNTAGGED_EXPIRE_DAYS,
                },
                "action": {"type": "expire"},
            }
        ]
    }


def configured_image_uri(spec: DeploymentSpec, override: str | None = None) -> str | None:
    """The image every variant runs: `override` (AwsEndpointOptions.image_uri), else the
    spec's `targets.aws.image_uri`; None builds the images from the bundles."""
    return override or aws_options(spec).image_uri


@dataclass(frozen=True)
class ImageRepositoryArgs:
    """The images to build or use, and the key the repository is encrypted with."""

    ctx: AwsContext
    """The deployment's spec (its bundles), names, tags and partition."""
    key_arn: pulumi.Input[str]
    """The stack's KMS key, which encrypts the repository."""
    image_uri: str | None = None
    """An ECR image every variant runs instead of images built from the bundles (None:
    the spec's `targets.aws.image_uri`, if any)."""


class ImageRepository(pulumi.ComponentResource):
    """A private, KMS-encrypted, scan-on-push ECR repository with a lifecycle policy.

    Each variant runs the given image (`image_uri`, else `targets.aws.image_uri`), or the
    `RuntimeImage` built from its bundle for linux/amd64 and pushed here. An s3://
    artifact has no bundle to build from, so `validate` requires an image for it.
    """

    repository_url: pulumi.Output[str]
    """registry/repository, without a tag."""
    repository_arn: pulumi.Output[str]
    """ARN the execution role may pull from."""
    image_uri: pulumi.Output[str]
    """The primary variant's image."""
    image_uris: dict[str, pulumi.Output[str]]
    """variant -> the image it runs."""

    def __init__(
        self, name: str, args: ImageRepositoryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:ImageRepository", name, None, opts)
        ctx, key_arn = args.ctx, args.key_arn
        image_uri = configured_image_uri(ctx.spec, args.image_uri)
        child = pulumi.ResourceOptions(parent=self)
        repo = aws.ecr.Repository(
            f"{name}-repo",
            # ECR names are lower-case only; the endpoint name keeps a stack name's case.
            name=fit(ECR_REPOSITORY, f"inferstack/{ctx.names.endpoint.lower()}"),
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": key_arn}],
            tags=ctx.tags,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repo.name,
            policy=json.dumps(lifecycle_policy()),
            opts=child,
        )
        self.repository_url = repo.repository_url
        self.image_uris = {}
        if image_uri:
            self.repository_arn = pulumi.Output.from_input(
                ecr_repository_arn(image_uri, ctx.partition)
            )
            self.image_uris = {
                a.variant: pulumi.Output.from_input(image_uri) for a in variant_artifacts(ctx.spec)
            }
        else:
            self.repository_arn = repo.arn
            self.image_uris = self._build_images(name, ctx, repo)
        self.image_uri = next(iter(self.image_uris.values()))
        self.register_outputs({"repository_url": self.repository_url, "image_uri": self.image_uri})

    def _build_images(
        self, name: str, ctx: AwsContext, repo: aws.ecr.Repository
    ) -> dict[str, pulumi.Output[str]]:
        """One RuntimeImage per local bundle, built for linux/amd64 and pushed here."""
        token = aws.ecr.get_authorization_token_output(registry_id=repo.registry_id)
        registry = ImageRegistry(
            repository_url=repo.repository_url,
            server=repo.repository_url.apply(lambda url: url.partition("/")[0]),
            username=token.user_name,
            password=token.password,
        )
        built: dict[str, pulumi.Output[str]] = {}
        out: dict[str, pulumi.Output[str]] = {}
        for artifact in variant_artifacts(ctx.spec):
            if not artifact.uploaded:  # validate() requires image_uri for s3:// artifacts
                raise ArtifactError(
                    f"{artifact.variant}: {artifact.source} is in S3 and no image is set; "
                    "set targets.aws.image_uri"
                )
            if artifact.source not in built:
                image = RuntimeImage(
                    f"{name}-{artifact.variant}",
                    RuntimeImageArgs(
                        bundle_dir=Path(artifact.source),
                        model_name=ctx.spec.model.name,
                        model_version=artifact.version,
                        gpu=ctx.spec.compute.accelerator != "none",
                        registry=registry,
                        platform=SAGEMAKER_PLATFORM,
                        # The group's runtime writes captures itself (SageMaker's is built in).
                        extras=image_extras(ctx.spec) if group_mode(ctx.spec) else (),
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )
                built[artifact.source] = image.image_ref
            out[artifact.variant] = built[artifact.source]
        return out
