"""A Batch Transform job's input in the stack's bucket: uploaded, or checked where it is.

SageMaker sends every line of each input object to the model, by position: a header
row would be scored as a row (and refused by the runtime, failing the job), and a blank
line would shift the joined results. Local CSVs are uploaded without either; S3 objects
are checked for a header. The job reads a manifest listing the objects, so its role
needs only GetObject under the input prefix.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inferstack.components.batch.seam import BatchJobError

PEEK_BYTES = 64 * 1024
MANIFESTS = ".manifests"
_S3_URI = re.compile(r"s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(.*))?")


def aws_errors() -> tuple[type[Exception], ...]:
    """botocore's errors (imported on use: the module loads without boto3)."""
    from botocore.exceptions import BotoCoreError, ClientError

    return (ClientError, BotoCoreError)


def call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    """`fn(**kwargs)`, with AWS's errors as a BatchJobError naming the call."""
    try:
        return fn(**kwargs)
    except aws_errors() as err:
        raise BatchJobError(f"{what}: {err}") from err


def split_s3(uri: str, what: str) -> tuple[str, str]:
    """(bucket, key) of an s3:// URI; a clear error for anything else."""
    found = _S3_URI.fullmatch(uri)
    if not found:
        raise BatchJobError(f"{what} {uri!r} is not an s3://bucket/key URI")
    return found.group(1), found.group(2) or ""


def local_csvs(path: Path) -> list[Path]:
    """The CSV files `path` names: itself, or those under the folder, in name order."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*.csv") if p.is_file())
    return [path] if path.suffix.lower() == ".csv" else []


def cells(line: str) -> list[str]:
    """A CSV line's cells, trimmed and unquoted (enough to compare a header)."""
    return [c.strip().strip('"') for c in line.strip().split(",")]


def looks_like_header(line: str, features: Iterable[str]) -> bool:
    """Whether a CSV line is a header: the bundle's feature names, or (features unknown)
    a line in which no cell is a number."""
    names = list(features)
    if names:
        return cells(line) == names
    return all(not _is_number(c) for c in cells(line))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def bundle_features(artifact: str | None, root: Path) -> list[str]:
    """The feature names of a local bundle's manifest (none for an s3:// artifact)."""
    import yaml

    if not artifact or artifact.startswith("s3://"):
        return []
    try:
        data = yaml.safe_load((root / artifact / "inferstack.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return []
    features = (data.get("input") or {}).get("features") or []
    return [f["name"] if isinstance(f, dict) else str(f) for f in features]


@dataclass(frozen=True)
class Inputs:
    """The job's input objects: their common prefix, their keys under it, the shortest row."""

    prefix: str
    keys: tuple[str, ...]
    shortest_row: int


@dataclass(frozen=True)
class Staging:
    """Where a job's input goes: the bucket, the key objects are encrypted with, the role's
    input prefix, and the bundle's features (empty when unknown)."""

    s3: Any
    bucket: str
    key_arn: str
    input_prefix: str
    features: tuple[str, ...]

    def put(self, key: str, body: bytes, content_type: str) -> None:
        """PutObject with the stack's key (the bucket refuses any other)."""
        call(
            f"PutObject s3://{self.bucket}/{key}",
            self.s3.put_object,
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=self.key_arn,
        )

    def upload(self, source: Path, job: str) -> Inputs:
        """Each local CSV under <input prefix>/<job>/, without header or blank lines."""
        prefix = f"{self.input_prefix}/{job}"
        keys, shortest = [], math.inf
        base = source if source.is_dir() else source.parent
        for path in local_csvs(source):
            lines = path.read_text().splitlines()
            if self.features and lines and cells(lines[0]) != list(self.features):
                raise BatchJobError(
                    f"{path}: header {lines[0][:80]!r} is not the bundle's features "
                    f"{','.join(self.features)!r}; Batch Transform passes columns by "
                    "position, so write exactly these columns in this order"
                )
            rows = [line for line in lines[1:] if line.strip()]
            if not rows:
                raise BatchJobError(f"{path}: no rows under the header")
            shortest = min(shortest, *(len(r.encode()) + 1 for r in rows))
            rel = path.relative_to(base).as_posix()
            self.put(f"{prefix}/{rel}", ("\n".join(rows) + "\n").encode(), "text/csv")
            keys.append(rel)
        return Inputs(prefix, tuple(keys), int(shortest))

    def listed(self, key: str, uri: str) -> Inputs:
        """The object at `key`, or the objects under the folder `key`, each checked for a
        header row (the first 64 KiB read, which also gives the shortest row)."""
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key)
        try:
            found = [o["Key"] for page in pages for o in page.get("Contents", [])]
        except aws_errors() as err:
            raise BatchJobError(f"ListObjectsV2 s3://{self.bucket}/{key}: {err}") from err
        if key in found:
            prefix, objects = key.rpartition("/")[0], [key]
        else:
            prefix = key.rstrip("/")
            objects = [
                o
                for o in found
                if o.startswith(prefix + "/") and not o.endswith("/") and f"/{MANIFESTS}/" not in o
            ]
        if not objects:
            raise BatchJobError(f"input {uri!r}: no objects there")
        shortest = math.inf
        for obj in objects:
            head = call(
                f"GetObject s3://{self.bucket}/{obj}",
                self.s3.get_object,
                Bucket=self.bucket,
                Key=obj,
                Range=f"bytes=0-{PEEK_BYTES - 1}",
            )["Body"].read()
            lines = head.decode("utf-8", "replace").splitlines()
            if lines and looks_like_header(lines[0], self.features):
                raise BatchJobError(
                    f"s3://{self.bucket}/{obj} starts with a header row ({lines[0][:80]!r}); "
                    "Batch Transform sends every line to the model: remove it, or give the "
                    "local CSV (uploaded without its header)"
                )
            complete = lines[:-1] if len(head) == PEEK_BYTES else lines
            sizes = [len(x.encode()) + 1 for x in complete if x.strip()]
            shortest = min(shortest, *sizes) if sizes else shortest
        rel = tuple(o[len(prefix) + 1 :] for o in objects)
        return Inputs(prefix, rel, int(shortest) if shortest != math.inf else 1)

    def manifest(self, inputs: Inputs, job: str) -> str:
        """Write the job's manifest under <input prefix>/.manifests/; its s3:// URI."""
        key = f"{self.input_prefix}/{MANIFESTS}/{job}.json"
        body = [{"prefix": f"s3://{self.bucket}/{inputs.prefix}/"}, *inputs.keys]
        self.put(key, json.dumps(body).encode(), "application/json")
        return f"s3://{self.bucket}/{key}"
