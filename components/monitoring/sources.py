"""Where captured records are read from: a local folder or an object-store prefix.

``open_source(uri)`` takes a folder, ``s3://BUCKET/PREFIX`` (boto3),
``gs://BUCKET/PREFIX`` (google-cloud-storage) or
``https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX`` (azure-storage-blob with
``DefaultAzureCredential``). Each SDK is imported when its scheme is used; a missing
one is a ``CaptureError`` naming the extra to install. A source lists its capture
objects in name order (object names start with the UTC hour, so that is time order)
and yields one object's lines at a time: memory holds one object, never the prefix.

Read: ``*.jsonl.gz`` (the runtime's object sinks) and ``*.jsonl`` (local folders and
SageMaker's data capture). Local ``*.feedback.jsonl`` and ``*.explanations.jsonl``
files are not requests and are passed over.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from inferstack.components.errors import DeployError

__all__ = ["CaptureError", "CaptureSource", "is_capture_object", "open_source"]

_AZURE = re.compile(r"^https://([a-z0-9]{3,24})\.blob\.core\.windows\.net/([a-z0-9-]{3,63})/?(.*)$")
_NOT_REQUESTS = (".feedback.jsonl", ".explanations.jsonl")


class CaptureError(DeployError):
    """Captured data cannot be listed or read; the message names the source."""


def is_capture_object(name: str) -> bool:
    """Whether an object or file name holds captured requests."""
    if name.endswith(_NOT_REQUESTS):
        return False
    return name.endswith((".jsonl", ".jsonl.gz"))


class CaptureSource(Protocol):
    """Captured objects under one location."""

    uri: str

    def names(self) -> list[str]:
        """The capture objects' names, sorted."""
        ...

    def read(self, name: str) -> bytes:
        """One object's bytes, as stored."""
        ...


def lines(source: CaptureSource, name: str) -> Iterator[bytes]:
    """The JSON lines of one object, gunzipped when its name ends in ``.gz``."""
    data = source.read(name)
    # A store may have undone the gzip already (HTTP Content-Encoding: gzip, which the
    # runtime's GCS and Azure sinks set): only bytes with gzip's magic are gunzipped.
    if name.endswith(".gz") and data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise CaptureError(f"{source.uri}: {name} is not valid gzip: {err}") from err
    yield from data.splitlines()


@dataclass
class FolderSource:
    """Capture files in a local folder (and its subfolders)."""

    uri: str

    def names(self) -> list[str]:
        root = Path(self.uri)
        if not root.is_dir():
            raise CaptureError(f"capture folder '{self.uri}' does not exist")
        return sorted(
            str(p.relative_to(root)) for p in root.rglob("*") if is_capture_object(p.name)
        )

    def read(self, name: str) -> bytes:
        return (Path(self.uri) / name).read_bytes()


@dataclass
class S3Source:
    """Objects under ``s3://BUCKET/PREFIX``."""

    uri: str
    bucket: str
    prefix: str
    client: Any

    def names(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        return sorted(
            o["Key"] for p in pages for o in p.get("Contents", []) if is_capture_object(o["Key"])
        )

    def read(self, name: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=name)["Body"].read()
        return body


@dataclass
class GcsSource:
    """Objects under ``gs://BUCKET/PREFIX``."""

    uri: str
    bucket: Any
    prefix: str

    def names(self) -> list[str]:
        blobs = self.bucket.client.list_blobs(self.bucket, prefix=self.prefix)
        return sorted(b.name for b in blobs if is_capture_object(b.name))

    def read(self, name: str) -> bytes:
        # The bytes as stored: no decompressive transcoding of Content-Encoding: gzip.
        data: bytes = self.bucket.blob(name).download_as_bytes(raw_download=True)
        return data


@dataclass
class AzureSource:
    """Blobs under ``https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX``."""

    uri: str
    container: Any
    prefix: str

    def names(self) -> list[str]:
        found = self.container.list_blobs(name_starts_with=self.prefix or None)
        return sorted(b.name for b in found if is_capture_object(b.name))

    def read(self, name: str) -> bytes:
        data: bytes = self.container.download_blob(name).readall()
        return data


def _needs(package: str, extra: str, err: ImportError) -> CaptureError:
    return CaptureError(
        f"reading this capture needs the package {package!r}: pip install 'inferstack[{extra}]'"
    )


def _split(uri: str, scheme: str) -> tuple[str, str]:
    bucket, _, prefix = uri.removeprefix(scheme).partition("/")
    if not bucket:
        raise CaptureError(f"capture URI '{uri}' names no bucket")
    return bucket, prefix


def open_source(uri: str, client: Any = None) -> CaptureSource:
    """The source ``uri`` names; ``client`` replaces the SDK's default client (tests)."""
    if uri.startswith("s3://"):
        bucket, prefix = _split(uri, "s3://")
        if client is None:
            try:
                import boto3
            except ImportError as err:
                raise _needs("boto3", "capture-s3", err) from err
            client = boto3.client("s3")
        return S3Source(uri, bucket, prefix, client)
    if uri.startswith("gs://"):
        bucket, prefix = _split(uri, "gs://")
        if client is None:
            try:
                from google.cloud import storage
            except ImportError as err:
                raise _needs("google-cloud-storage", "capture-gcs", err) from err
            client = storage.Client()
        return GcsSource(uri, client.bucket(bucket), prefix)
    if uri.startswith("https://"):
        match = _AZURE.match(uri)
        if match is None:
            raise CaptureError(
                f"capture URI '{uri}': expected https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX"
            )
        account, container, prefix = match.groups()
        if client is None:
            try:
                from azure.identity import DefaultAzureCredential
                from azure.storage.blob import BlobServiceClient
            except ImportError as err:
                raise _needs("azure-storage-blob", "capture-azure", err) from err
            client = BlobServiceClient(
                f"https://{account}.blob.core.windows.net", credential=DefaultAzureCredential()
            )
        return AzureSource(uri, client.get_container_client(container), prefix)
    if "://" in uri:
        raise CaptureError(
            f"capture '{uri}': expected a folder, s3://, gs:// or an Azure blob https:// URL"
        )
    return FolderSource(uri)
