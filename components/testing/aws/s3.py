"""S3 buckets, their settings and objects in moto."""

from __future__ import annotations

from pathlib import Path

import pulumi

from inferstack.components.testing.aws.fallback import auto_name
from inferstack.components.testing.aws.shapes import Args, Mirror, Moto, Result, params, tag_list

NOT_IN_MOTO = {
    "aws:s3/bucketObjectv2:BucketObjectv2#bucketPolicy": (
        "moto evaluates bucket-policy conditions without request context; uploads lift it"
    ),
}


def _bucket(m: Moto, a: Args) -> Result:
    name = a.inputs.get("bucket") or auto_name(a, lower=True)
    s3 = m.client("s3")
    s3.create_bucket(Bucket=name)
    if a.inputs.get("tags"):
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tag_list(a.inputs["tags"])})
    return name, {
        "bucket": name,
        "arn": f"arn:aws:s3:::{name}",
        "bucketRegionalDomainName": f"{name}.s3.{m.region}.amazonaws.com",
    }


def _ownership(m: Moto, a: Args) -> Result:
    m.client("s3").put_bucket_ownership_controls(
        Bucket=a.inputs["bucket"],
        OwnershipControls={"Rules": [{"ObjectOwnership": a.inputs["rule"]["objectOwnership"]}]},
    )
    return a.inputs["bucket"], {}


def _public_access(m: Moto, a: Args) -> Result:
    keys = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    config = {k[0].upper() + k[1:]: bool(a.inputs.get(k)) for k in keys}
    m.client("s3").put_public_access_block(
        Bucket=a.inputs["bucket"], PublicAccessBlockConfiguration=config
    )
    return a.inputs["bucket"], {}


def _versioning(m: Moto, a: Args) -> Result:
    status = a.inputs["versioningConfiguration"]["status"]
    m.client("s3").put_bucket_versioning(
        Bucket=a.inputs["bucket"], VersioningConfiguration={"Status": status}
    )
    return a.inputs["bucket"], {}


def _encryption(m: Moto, a: Args) -> Result:
    rules = []
    for rule in a.inputs["rules"]:
        default = rule["applyServerSideEncryptionByDefault"]
        rules.append(
            {
                "ApplyServerSideEncryptionByDefault": params(
                    SSEAlgorithm=default["sseAlgorithm"],
                    KMSMasterKeyID=default.get("kmsMasterKeyId"),
                ),
                "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled")),
            }
        )
    m.client("s3").put_bucket_encryption(
        Bucket=a.inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
    )
    return a.inputs["bucket"], {}


def _bucket_policy(m: Moto, a: Args) -> Result:
    m.client("s3").put_bucket_policy(Bucket=a.inputs["bucket"], Policy=a.inputs["policy"])
    return a.inputs["bucket"], {}


def _object(m: Moto, a: Args) -> Result:
    i = a.inputs
    source = i.get("source")
    body = (
        Path(source.path).read_bytes()
        if isinstance(source, pulumi.FileAsset)
        else (i.get("content") or "").encode()
    )
    s3 = m.client("s3")
    # NOT_IN_MOTO: moto checks bucket policies without the request's context keys, so a
    # conditional Deny (aws:SecureTransport, the SSE key header) denies every upload. The
    # policy is lifted for this one TLS, stack-key upload, as real S3 would allow it.
    try:
        policy = s3.get_bucket_policy(Bucket=i["bucket"])["Policy"]
        s3.delete_bucket_policy(Bucket=i["bucket"])
    except s3.exceptions.ClientError:
        policy = None
    try:
        response = s3.put_object(
            **params(
                Bucket=i["bucket"],
                Key=i["key"],
                Body=body,
                ContentType=i.get("contentType"),
                ServerSideEncryption=i.get("serverSideEncryption"),
                SSEKMSKeyId=i.get("kmsKeyId"),
            )
        )
    finally:
        if policy:
            s3.put_bucket_policy(Bucket=i["bucket"], Policy=policy)
    return i["key"], {
        "etag": response["ETag"].strip('"'),
        "versionId": response.get("VersionId", ""),
        "arn": f"arn:aws:s3:::{i['bucket']}/{i['key']}",
    }


MIRRORS: dict[str, Mirror] = {
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _ownership,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _public_access,
    "aws:s3/bucketVersioning:BucketVersioning": _versioning,
    "aws:s3/bucketServerSideEncryptionConfiguration:"
    "BucketServerSideEncryptionConfiguration": _encryption,
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_policy,
    "aws:s3/bucketObjectv2:BucketObjectv2": _object,
}
