"""Where captured records are written: a local folder or an object store.

Destinations (``INFERSTACK_CAPTURE_URI``; a local folder is ``INFERSTACK_CAPTURE_DIR``):

- ``s3://BUCKET/PREFIX`` (boto3; SSE-KMS with ``INFERSTACK_CAPTURE_KMS_KEY`` when set)
- ``gs://BUCKET/PREFIX`` (google-cloud-storage)
- ``https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX`` (azure-storage-blob with
  ``DefaultAzureCredential``)

Object layout (one object per flush, never appended to)::

    PREFIX/<model>/<version>/<YYYY>/<MM>/<DD>/<HH>/<UTC timestamp>-<host>-<pid>-<seq>.jsonl.gz

The date folders are the UTC hour of the flush; ``<UTC timestamp>`` is
``YYYYMMDDTHHMMSSffffffZ``; ``<seq>`` counts this process's objects from 0. Each object is
gzip-compressed JSON lines, one record per line, of two kinds:

- ``{"kind": "prediction", "ts", "model", "version", "id", "route", "inputs", "outputs"}``
  plus ``"anomalies"`` when the request held anomalous values. ``ts`` is Unix seconds
  (UTC), ``id`` is the request id returned in the ``X-Request-Id`` header.
- ``{"kind": "feedback", "id", "outcome", "ts"}``: a ground-truth outcome posted to
  ``/feedback`` for the prediction of the same ``id`` (possibly captured by another
  replica: join across all objects under the prefix).

A local folder keeps its historical naming (plain JSON lines, appended):
``<model>-<version>-<YYYYMMDD>-<pid>.jsonl`` for predictions and
``<model>-<version>-<YYYYMMDD>-<pid>.feedback.jsonl`` for feedback, beside it.
"""

from __future__ import annotations

import gzip
import os
import socket
import threading
import time
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import orjson

from inferstack.runtime.errors import ConfigError

__all__ = [
    "AzureBlobSink",
    "FileSink",
    "GcsSink",
    "ObjectSink",
    "S3Sink",
    "Sink",
    "encode_records",
    "object_sink",
]

_SUFFIXES = {
    "prediction": ".jsonl",
    "feedback": ".feedback.jsonl",
    "explanation": ".explanations.jsonl",
}


class Sink(Protocol):
    """Where a batch of records goes; ``write`` raises when the batch was not stored."""

    name: str

    def write(self, records: list[dict[str, Any]]) -> None: ...


def encode_records(records: list[dict[str, Any]]) -> bytes:
    """JSON lines, one record per line (numpy values as lists and numbers)."""
    return b"".join(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n" for r in records)


class FileSink:
    """Appends records to today's files in a local folder, one file per record kind."""

    name = "file"

    def __init__(self, directory: Path, model: str, version: str) -> None:
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)
        self.model = model
        self.version = version
        self._lock = threading.Lock()

    def path(self, kind: str) -> Path:
        """Today's file of ``kind`` records for this process."""
        day = time.strftime("%Y%m%d", time.gmtime())
        stem = f"{self.model}-{self.version}-{day}-{os.getpid()}"
        return self.directory / f"{stem}{_SUFFIXES.get(kind, '.jsonl')}"

    def append(self, path: Path, records: list[dict[str, Any]]) -> None:
        """Append ``records`` to ``path`` as JSON lines."""
        data = encode_records(records)
        with self._lock, path.open("ab") as fh:
            fh.write(data)

    def write(self, records: list[dict[str, Any]]) -> None:
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for r in records:
            by_kind.setdefault(r.get("kind", "prediction"), []).append(r)
        for kind, group in by_kind.items():
            self.append(self.path(kind), group)


class ObjectSink:
    """One gzip JSON-lines object per batch under ``PREFIX/<model>/<version>/<hour>/``."""

    name = "object"

    def __init__(self, prefix: str, model: str, version: str) -> None:
        self.prefix = prefix.strip("/")
        self.model = model
        self.version = version
        self._host = _safe(socket.gethostname())[:63] or "host"
        self._seq = count()
        self._unsent: tuple[list[dict[str, Any]], str, bytes] | None = None

    def key(self, now: datetime | None = None) -> str:
        """The next object's key (see the module docstring)."""
        now = now or datetime.now(UTC)
        stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
        name = f"{stamp}-{self._host}-{os.getpid()}-{next(self._seq)}.jsonl.gz"
        parts = [self.prefix, self.model, self.version, now.strftime("%Y/%m/%d/%H"), name]
        return "/".join(p for p in parts if p)

    def write(self, records: list[dict[str, Any]]) -> None:
        # The queue retries a failed batch with the same list: it keeps its key, so an
        # attempt that stored the object but failed to answer leaves no second copy.
        again = self._unsent is not None and self._unsent[0] is records
        if again and self._unsent is not None:
            _, key, body = self._unsent
        else:
            key, body = self.key(), gzip.compress(encode_records(records), compresslevel=6)
        self._unsent = (records, key, body)
        self.put(key, body, again=again)
        self._unsent = None

    def put(self, key: str, body: bytes, *, again: bool = False) -> None:
        """Store one object (``again``: a retry of the same key); raises when not stored."""
        raise NotImplementedError


class S3Sink(ObjectSink):
    """Objects in S3 through boto3; SSE-KMS with ``kms_key`` when given."""

    name = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str,
        model: str,
        version: str,
        kms_key: str | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        super().__init__(prefix, model, version)
        try:
            import boto3
            from botocore.config import Config
        except ImportError as err:
            raise _missing("capture-s3", "boto3") from err
        self.bucket = bucket
        self.kms_key = kms_key
        # Short timeouts and few retries: the queue's own retries pace a failing store,
        # and a stalled call holds up every batch behind it.
        config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2})
        self.client = boto3.client("s3", endpoint_url=endpoint_url, config=config)

    def put(self, key: str, body: bytes, *, again: bool = False) -> None:
        extra: dict[str, str] = {}
        if self.kms_key:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key}
        self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/x-ndjson",
            ContentEncoding="gzip",
            **extra,
        )


class GcsSink(ObjectSink):
    """Objects in Google Cloud Storage through google-cloud-storage (the bucket's CMEK)."""

    name = "gcs"

    def __init__(self, bucket: str, prefix: str, model: str, version: str) -> None:
        super().__init__(prefix, model, version)
        try:
            from google.cloud import storage
        except ImportError as err:
            raise _missing("capture-gcs", "google-cloud-storage") from err
        self.bucket = storage.Client().bucket(bucket)

    def put(self, key: str, body: bytes, *, again: bool = False) -> None:
        blob = self.bucket.blob(key)
        blob.content_encoding = "gzip"
        blob.upload_from_string(body, content_type="application/x-ndjson")


class AzureBlobSink(ObjectSink):
    """Blobs in Azure Storage through azure-storage-blob and ``DefaultAzureCredential``."""

    name = "azure"

    def __init__(
        self,
        account_url: str,
        container: str,
        prefix: str,
        model: str,
        version: str,
        credential: Any = None,
    ) -> None:
        super().__init__(prefix, model, version)
        try:
            from azure.storage.blob import BlobServiceClient, ContentSettings
        except ImportError as err:
            raise _missing("capture-azure", "azure-storage-blob") from err
        if credential is None:
            try:
                from azure.identity import DefaultAzureCredential
            except ImportError as err:
                raise _missing("capture-azure", "azure-identity") from err
            credential = DefaultAzureCredential()
        service = BlobServiceClient(account_url=account_url, credential=credential)
        self.container = service.get_container_client(container)
        self._settings = ContentSettings(
            content_type="application/x-ndjson", content_encoding="gzip"
        )

    def put(self, key: str, body: bytes, *, again: bool = False) -> None:
        # never overwrite another writer's object; a retry rewrites its own, same bytes
        self.container.upload_blob(key, body, overwrite=again, content_settings=self._settings)


def object_sink(uri: str, model: str, version: str, kms_key: str | None = None) -> ObjectSink:
    """The sink for ``INFERSTACK_CAPTURE_URI``; a URI of no known store is a ``ConfigError``."""
    parsed = urlparse(uri)
    path = parsed.path.lstrip("/")
    if parsed.scheme == "s3" and parsed.netloc:
        return S3Sink(parsed.netloc, path, model, version, kms_key=kms_key)
    if parsed.scheme == "gs" and parsed.netloc:
        return GcsSink(parsed.netloc, path, model, version)
    if (
        parsed.scheme == "https"
        and parsed.hostname is not None
        and parsed.hostname.endswith(".blob.core.windows.net")
    ):
        container, _, prefix = path.partition("/")
        if container:
            account_url = f"https://{parsed.netloc}"
            return AzureBlobSink(account_url, container, prefix, model, version)
    raise ConfigError(
        f"INFERSTACK_CAPTURE_URI '{uri[:200]}' names no object store: use s3://BUCKET/PREFIX, "
        "gs://BUCKET/PREFIX or https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX"
    )


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text)


def _missing(extra: str, package: str) -> ConfigError:
    return ConfigError(
        f"INFERSTACK_CAPTURE_URI needs the package '{package}' for this store: "
        f"pip install 'inferstack[{extra}]'"
    )
