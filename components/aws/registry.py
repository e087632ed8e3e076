"""The ECR repository the runtime image lives in, and the image URI SageMaker pulls."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.artifacts import variant_artifacts
from inferstack.components.aws.context import AwsContext
from inferstack.components.image.component import ImageRegistry, RuntimeImage, RuntimeImageArgs

_ECR_URI = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repo>[a-z0-9._/-]+)(?::[\w.-]+|@sha256:[0-9a-f]{64})$"
)
KEEP_IMAGES = 30


def ecr_repository_arn(image_uri: str, partition: str) -> str:
    """The ARN of the ECR repository `image_uri` is in; ValueError if it is not ECR."""
    match = _ECR_URI.match(image_uri)
    if not match:
        raise ValueError(
            f"image {image_uri!r} is not an ECR image URI "
            "(<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>); SageMaker pulls from ECR"
        )
    return f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repo']}"


def runtime_tag() -> str:
    """The runtime image tag this inferstack version deploys by default."""
    try:
        return metadata.version("inferstack")
    except metadata.PackageNotFoundError:
        return "latest"


@dataclass(frozen=True)
class ImageRepositoryArgs:
    """The images to build or use, and the key the repository is encrypted with."""

    ctx: AwsContext
    """The deployment's spec (its bundles), names, tags and partition."""
    key_arn: pulumi.Input[str]
    """The stack's KMS key, which encrypts the repository."""
    image_uri: str | None = None
    """An ECR image every variant runs instead of images built from the bundles."""


class ImageRepository(pulumi.ComponentResource):
    """A private, KMS-encrypted, scan-on-push ECR repository with a lifecycle policy.

    Each variant runs the given `image_uri`, or the `RuntimeImage` built from its bundle
    and pushed here; a variant whose artifact is already in S3 runs this repository at
    the installed inferstack's runtime tag (pushed by CI).
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
        ctx, key_arn, image_uri = args.ctx, args.key_arn, args.image_uri
        child = pulumi.ResourceOptions(parent=self)
        repo = aws.ecr.Repository(
            f"{name}-repo",
            # ECR names are lower-case only; the endpoint name keeps a stack name's case.
            name=f"inferstack/{ctx.names.endpoint.lower()}",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": key_arn}],
            tags=ctx.tags,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repo.name,
            policy=json.dumps(
                {
                    "rules": [
                        {
                            "rulePriority": 1,
                            "description": f"keep the last {KEEP_IMAGES} images",
                            "selection": {
                                "tagStatus": "any",
                                "countType": "imageCountMoreThan",
                                "countNumber": KEEP_IMAGES,
                            },
                            "action": {"type": "expire"},
                        }
                    ]
                }
            ),
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
        """One RuntimeImage per local bundle, pushed here; s3:// artifacts run the runtime
        image at this inferstack's tag (pushed by CI) and load the archive from S3."""
        token = aws.ecr.get_authorization_token_output(registry_id=repo.registry_id)
        registry = ImageRegistry(
            repository_url=repo.repository_url,
            server=repo.repository_url.apply(lambda url: url.partition("/")[0]),
            username=token.user_name,
            password=token.password,
        )
        fallback = pulumi.Output.concat(repo.repository_url, ":", runtime_tag())
        built: dict[str, pulumi.Output[str]] = {}
        out: dict[str, pulumi.Output[str]] = {}
        for artifact in variant_artifacts(ctx.spec):
            if not artifact.uploaded:  # validate() made every local artifact a bundle folder
                out[artifact.variant] = fallback
                continue
            if artifact.source not in built:
                image = RuntimeImage(
                    f"{name}-{artifact.variant}",
                    RuntimeImageArgs(
                        bundle_dir=Path(artifact.source),
                        model_name=ctx.spec.model.name,
                        model_version=artifact.version,
                        gpu=ctx.spec.compute.accelerator != "none",
                        registry=registry,
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )
                built[artifact.source] = image.image_ref
            out[artifact.variant] = built[artifact.source]
        return out
