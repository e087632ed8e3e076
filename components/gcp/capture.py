"""`CaptureBucket`: where the GKE runtime writes captured requests (data capture on).

With ``observability.data_capture_percent`` above 0 the stack creates one Cloud Storage
bucket in the deployment's region: uniform bucket-level access (no object ACLs), public
access prevention enforced, Google-managed encryption (the GKE stack has no Cloud KMS
key of its own; with one, the bucket's ``encryption.default_kms_key_name`` is where it
would go), objects kept 90 days then deleted. The runtime's Google service account
gets ``roles/storage.objectCreator`` on this bucket only (create objects; no read, no
overwrite, nothing project-wide): the sink writes each batch as a new object. The pods
get ``INFERSTACK_CAPTURE_URI=gs://<bucket>/capture`` and the sample rate; the image
installs the ``capture-gcs`` extra.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from inferstack.components.gcp.context import GcpContext
from inferstack.components.gcp.naming import NameRule, fit
from inferstack.components.gcp.rules import gcp_options
from inferstack.components.spec.models import DeploymentSpec

CAPTURE_EXTRA = "capture-gcs"
BATCH_EXTRA = "batch"
CAPTURE_PREFIX = "capture"
RETENTION_DAYS = 90
GCS_BUCKET = NameRule(
    "Cloud Storage bucket name",
    63,
    r"[a-z0-9][-_a-z0-9]*[a-z0-9]",
    "https://cloud.google.com/storage/docs/buckets#naming",
    min_length=3,
)


def capture_on(spec: DeploymentSpec) -> bool:
    """Whether the spec captures requests at all."""
    return spec.observability.data_capture_percent > 0


def image_extras(spec: DeploymentSpec) -> tuple[str, ...]:
    """The runtime image's extras: the capture sink's SDK when capturing, the batch
    extra when the stack's image also runs batch Jobs (`targets.gcp.batch_jobs`)."""
    capture = (CAPTURE_EXTRA,) if capture_on(spec) else ()
    return (*capture, BATCH_EXTRA) if gcp_options(spec).batch_jobs else capture


def capture_bucket_name(ctx: GcpContext) -> str:
    """Globally unique: the project and the deployment's base name, fitted."""
    return fit(GCS_BUCKET, ctx.project, ctx.base, "capture")


def sample_rate(spec: DeploymentSpec) -> str:
    """INFERSTACK_CAPTURE_SAMPLE_RATE: the spec's percent as a fraction."""
    return f"{spec.observability.data_capture_percent / 100:g}"


@dataclass(frozen=True)
class CaptureBucketArgs:
    """Who writes captures, and for which deployment."""

    ctx: GcpContext
    """The deployment's project, region, names and labels."""
    writer_email: pulumi.Input[str]
    """The runtime's Google service account (Workload Identity)."""


class CaptureBucket(pulumi.ComponentResource):
    """A private bucket for captured requests and the runtime's create-only grant."""

    uri: pulumi.Output[str]
    """``gs://<bucket>/capture``: the runtime's INFERSTACK_CAPTURE_URI."""
    grant: pulumi.Resource
    """The writer's role on the bucket (the pods start after it)."""

    def __init__(
        self, name: str, args: CaptureBucketArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:gcp:CaptureBucket", name, None, opts)
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self)
        bucket = gcp.storage.Bucket(
            f"{name}-bucket",
            name=capture_bucket_name(ctx),
            project=ctx.project,
            location=ctx.region,
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            force_destroy=False,
            lifecycle_rules=[{"action": {"type": "Delete"}, "condition": {"age": RETENTION_DAYS}}],
            labels=ctx.labels,
            opts=child,
        )
        self.grant = gcp.storage.BucketIAMMember(
            f"{name}-writer",
            bucket=bucket.name,
            role="roles/storage.objectCreator",
            member=pulumi.Output.from_input(args.writer_email).apply(
                lambda e: f"serviceAccount:{e}"
            ),
            opts=child,
        )
        self.uri = pulumi.Output.concat("gs://", bucket.name, f"/{CAPTURE_PREFIX}")
        self.register_outputs({"uri": self.uri})
