"""Data capture of the instance group: the runtime writes sampled requests to the stack's
artifact bucket (SageMaker endpoints keep SageMaker's own data capture).

With ``observability.data_capture_percent`` above 0 the container gets
``INFERSTACK_CAPTURE_URI=s3://<artifact bucket>/capture/<endpoint>``, the sample rate,
and ``INFERSTACK_CAPTURE_KMS_KEY`` (the stack's key: objects are written SSE-KMS, as
the bucket's default encryption and its TLS-only policy already require). The hosts'
role may put objects under that prefix only, and generate data keys with the stack's
key only; the image installs the ``capture-s3`` extra (boto3). The runtime in the
container signs its writes with the hosts' role, which it reaches through the instance
metadata service: with capture on, the IMDSv2 hop limit is 2 instead of 1 (the role is
the hosts' least-privilege one; nothing else the container could not already reach).
"""

from __future__ import annotations

from inferstack.components.aws.policies import Policy
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.contract import Env

CAPTURE_EXTRA = "capture-s3"


def image_extras(spec: DeploymentSpec) -> tuple[str, ...]:
    """The runtime image's extras for the group's capture sink (none without capture)."""
    return (CAPTURE_EXTRA,) if capture_on(spec) else ()


def capture_on(spec: DeploymentSpec) -> bool:
    """Whether the spec captures requests at all."""
    return spec.observability.data_capture_percent > 0


def imds_hop_limit(spec: DeploymentSpec) -> int:
    """The launch template's IMDSv2 hop limit: 1 keeps the container away from the
    metadata service; with capture the runtime in the container needs the hosts' role
    (boto3 reads it from IMDSv2 through Docker's bridge, one more hop)."""
    return 2 if capture_on(spec) else 1


def capture_environment(
    spec: DeploymentSpec, uri: str, key_arn: str
) -> tuple[tuple[str, str], ...]:
    """The runtime's capture settings for the container; none when capture is off."""
    if not capture_on(spec):
        return ()
    rate = spec.observability.data_capture_percent / 100
    return (
        (Env.CAPTURE_URI, uri),
        (Env.CAPTURE_SAMPLE_RATE, f"{rate:g}"),
        (Env.CAPTURE_KMS_KEY, key_arn),
    )


def capture_statements(bucket_arn: str, prefix: str, key_arn: str) -> list[Policy]:
    """Put objects under the capture prefix only; data keys from the stack's key only."""
    return [
        {
            "Sid": "WriteCapture",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/{prefix}/*",
        },
        {
            "Sid": "EncryptCaptureWithStackKey",
            "Effect": "Allow",
            "Action": "kms:GenerateDataKey",
            "Resource": key_arn,
        },
    ]
