"""The artifact bucket: private, versioned, KMS-encrypted, TLS-only; archives uploaded."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.artifacts import (
    model_archive,
    split_s3_uri,
    variant_artifacts,
)
from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.naming import S3_BUCKET, auto_logical
from inferstack.components.aws.policies import bucket_policy
from inferstack.components.aws.rules import aws_options


@dataclass(frozen=True)
class ArtifactStoreArgs:
    """The archives to store and the key to encrypt them with."""

    ctx: AwsContext
    """The deployment's spec (its artifacts), names, tags and partition."""
    key_arn: pulumi.Input[str]
    """The stack's KMS key: default bucket encryption and every uploaded archive."""


class ArtifactStore(pulumi.ComponentResource):
    """S3 bucket holding model archives, data capture and async results."""

    bucket: pulumi.Output[str]
    """Bucket name."""
    bucket_arn: pulumi.Output[str]
    """Bucket ARN."""
    model_data_urls: dict[str, pulumi.Output[str]]
    """variant name -> s3:// URL of the model.tar.gz it serves."""
    read_arns: list[pulumi.Output[str]]
    """Object ARNs the execution role may read (the archives; async: the input prefix)."""
    capture_uri: pulumi.Output[str]
    """s3:// prefix data capture writes to."""
    async_output_uri: pulumi.Output[str]
    """s3:// prefix of async inference: results under `output/`, failures under `failures/`."""
    async_input_uri: pulumi.Output[str]
    """s3:// prefix async requests are read from (the only requests the role may read)."""
    write_arns: list[pulumi.Output[str]]
    """Object ARN patterns the execution role may write (capture; async: output, failures)."""

    def __init__(
        self, name: str, args: ArtifactStoreArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:ArtifactStore", name, None, opts)
        ctx = args.ctx
        bucket, encryption = _private_bucket(name, ctx, args.key_arn, self)
        self.model_data_urls = {}
        self.read_arns = []
        uploaded: dict[str, aws.s3.BucketObjectv2] = {}
        for artifact in variant_artifacts(ctx.spec):
            if not artifact.uploaded:
                src_bucket, src_key = split_s3_uri(artifact.source)
                self.model_data_urls[artifact.variant] = pulumi.Output.from_input(artifact.source)
                self.read_arns.append(
                    pulumi.Output.from_input(f"arn:{ctx.partition}:s3:::{src_bucket}/{src_key}")
                )
                continue
            key = artifact.key(ctx.spec.model.name)
            if key not in uploaded:
                uploaded[key] = aws.s3.BucketObjectv2(
                    f"{name}-model-{artifact.version.replace('.', '-')}",
                    bucket=bucket.id,
                    key=key,
                    source=pulumi.FileAsset(str(model_archive(artifact.source))),
                    server_side_encryption="aws:kms",
                    kms_key_id=args.key_arn,
                    content_type="application/gzip",
                    tags=ctx.tags,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[encryption]),
                )
                self.read_arns.append(pulumi.Output.concat(bucket.arn, "/", key))
            self.model_data_urls[artifact.variant] = pulumi.Output.concat(
                "s3://", uploaded[key].bucket, "/", uploaded[key].key
            )
        self._prefixes(ctx, bucket)
        self.register_outputs(
            {"bucket": self.bucket, "bucket_arn": self.bucket_arn, "capture_uri": self.capture_uri}
        )

    def _prefixes(self, ctx: AwsContext, bucket: aws.s3.Bucket) -> None:
        """Where SageMaker writes (capture, async) and may read async requests."""
        endpoint = ctx.names.endpoint
        self.bucket = bucket.bucket
        self.bucket_arn = bucket.arn
        self.capture_uri = pulumi.Output.concat("s3://", bucket.bucket, f"/capture/{endpoint}")
        self.async_output_uri = pulumi.Output.concat("s3://", bucket.bucket, f"/async/{endpoint}")
        self.async_input_uri = pulumi.Output.concat(self.async_output_uri, "/input")

        def under(prefix: str) -> pulumi.Output[str]:
            return bucket.arn.apply(lambda arn: f"{arn}/{prefix}/*")

        # `inferstack score --stack` (batch/aws.py): Batch Transform reads its input and
        # manifest under batch/<endpoint>/input and writes results under .../output.
        self.read_arns.append(under(ctx.names.batch_input))
        self.write_arns = [under(f"capture/{endpoint}"), under(ctx.names.batch_output)]
        if aws_options(ctx.spec).mode == "async":
            # SageMaker reads each request's InputLocation and writes its result with
            # this role: requests go under input/, results under output/ and failures/.
            self.read_arns.append(under(f"async/{endpoint}/input"))
            self.write_arns += [
                under(f"async/{endpoint}/output"),
                under(f"async/{endpoint}/failures"),
            ]


def _private_bucket(
    name: str, ctx: AwsContext, key_arn: pulumi.Input[str], parent: pulumi.Resource
) -> tuple[aws.s3.Bucket, aws.s3.BucketServerSideEncryptionConfiguration]:
    """A bucket owned by the account, never public, versioned, encrypted with the stack
    key and reachable over TLS only; with its encryption (upload after it)."""
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(
        auto_logical(S3_BUCKET, f"{name}-bucket"), force_destroy=False, tags=ctx.tags, opts=child
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=child,
    )
    public = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=child,
    )
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": key_arn,
                },
                "bucket_key_enabled": True,
            }
        ],
        opts=child,
    )
    aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.id,
        policy=pulumi.Output.all(bucket.arn, key_arn).apply(
            lambda a: json.dumps(bucket_policy(a[0], a[1]))
        ),
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[public]),
    )
    return bucket, encryption
