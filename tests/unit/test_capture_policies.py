"""The policy rules that keep a capture destination private: each target's catches its
insecure capture store and passes the one the stack declares."""

from __future__ import annotations

from inferstack.policies import aws, azure, gcp
from inferstack.policies.base import Subject
from inferstack.policies.rules import evaluate


def _names(subjects: list[Subject]) -> set[str]:
    return {v.policy for v in evaluate(subjects)}


def test_a_public_azure_capture_container_is_caught() -> None:
    clean = Subject(
        azure.CONTAINER, "capture", {"containerName": "capture-x", "publicAccess": "None"}
    )
    public = Subject(
        azure.CONTAINER, "capture", {"containerName": "capture-x", "publicAccess": "Blob"}
    )
    assert "azure-storage-secure" not in _names([clean])
    found = [v for v in evaluate([public]) if v.policy == "azure-storage-secure"]
    assert [v.message for v in found] == [
        "blob container allows anonymous reads: set publicAccess None"
    ]


def test_a_gcs_capture_bucket_without_public_access_prevention_is_caught() -> None:
    clean = Subject(gcp.BUCKET, "capture", {"publicAccessPrevention": "enforced"})
    open_ = Subject(gcp.BUCKET, "capture", {"publicAccessPrevention": "inherited"})
    public_grant = Subject(
        gcp.BUCKET_MEMBERS[0],
        "capture-writer",
        {"member": "allUsers", "role": "roles/storage.objectViewer"},
    )
    assert "gcs-not-public" not in _names([clean])
    assert "gcs-not-public" in _names([open_])
    assert "gcs-not-public" in _names([clean, public_grant])


def test_an_s3_capture_bucket_without_its_public_access_block_is_caught() -> None:
    # The instance group writes captures under the artifact bucket's capture/ prefix:
    # the bucket's own public access block is what keeps them private.
    bucket = Subject(aws.S3_BUCKETS[0], "artifacts", {"bucket": "artifacts"})
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    block = Subject(aws.S3_PUBLIC_ACCESS_BLOCK, "artifacts-block", {f: True for f in flags})
    assert "s3-no-public-access" in _names([bucket])
    assert "s3-no-public-access" not in _names([bucket, block])
    half = Subject(aws.S3_PUBLIC_ACCESS_BLOCK, "artifacts-block", {**block.props, flags[1]: False})
    assert "s3-no-public-access" in _names([bucket, half])
