"""The ECR repository the runtime image lives in, and the image URI SageMaker pulls."""

from __future__ import annotations

import json
import re
from importlib import metadata

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.context import AwsContext

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
    return (f"arn:{partition}:ecr:{match['region']}:{match['account']}:"
            f"repository/{match['repo']}")


def runtime_tag() -> str:
    """The runtime image tag this inferstack version deploys by default."""
    try:
        return metadata.version("inferstack")
    except metadata.PackageNotFoundError:
        return "latest"


class ImageRepository(pulumi.ComponentResource):
    """A private, KMS-encrypted, scan-on-push ECR repository with a lifecycle policy.

    `image_uri` is the image SageMaker runs: the one given, or this repository at the
    runtime tag of the installed inferstack (pushed by CI or `make push`).
    """

    repository_url: pulumi.Output[str]
    """registry/repository, without a tag."""
    repository_arn: pulumi.Output[str]
    """ARN the execution role may pull from."""
    image_uri: pulumi.Output[str]
    """The image SageMaker runs."""

    def __init__(self, name: str, ctx: AwsContext, key_arn: pulumi.Input[str],
                 image_uri: str | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("inferstack:aws:ImageRepository", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        repo = aws.ecr.Repository(
            f"{name}-repo",
            name=f"inferstack/{ctx.names.endpoint}",
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS", "kms_key": key_arn}],
            tags=ctx.tags,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle", repository=repo.name,
            policy=json.dumps({"rules": [{
                "rulePriority": 1, "description": f"keep the last {KEEP_IMAGES} images",
                "selection": {"tagStatus": "any", "countType": "imageCountMoreThan",
                              "countNumber": KEEP_IMAGES},
                "action": {"type": "expire"}}]}),
            opts=child)
        self.repository_url = repo.repository_url
        if image_uri:
            self.repository_arn = pulumi.Output.from_input(
                ecr_repository_arn(image_uri, ctx.partition))
            self.image_uri = pulumi.Output.from_input(image_uri)
        else:
            self.repository_arn = repo.arn
            self.image_uri = pulumi.Output.concat(repo.repository_url, ":", runtime_tag())
        self.register_outputs({"repository_url": self.repository_url,
                               "image_uri": self.image_uri})
