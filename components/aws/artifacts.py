"""Turning the spec's artifacts into S3 model archives SageMaker can load.

A bundle folder becomes a reproducible `model.tar.gz` (sorted entries, zeroed
times and owners), so the same bundle always has the same hash and an unchanged
model never re-uploads. An `s3://` artifact is used where it is.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from inferstack.components.aws.common import primary_variant
from inferstack.components.errors import DeployError
from inferstack.components.spec.models import DeploymentSpec


class ArtifactError(DeployError):
    """A model artifact cannot be packaged for SageMaker."""


@dataclass(frozen=True)
class VariantArtifact:
    """Which archive a production variant serves."""

    variant: str
    """Production variant name."""
    version: str
    """Model version the variant serves."""
    source: str
    """The spec's artifact: a local bundle folder or an s3:// URI."""

    @property
    def uploaded(self) -> bool:
        """Whether inferstack uploads it (local) rather than reading it in place (s3://)."""
        return not self.source.startswith("s3://")

    def key(self, model: str) -> str:
        """The object key of an uploaded archive."""
        return f"models/{model}/{self.version}/model.tar.gz"


def variant_artifacts(spec: DeploymentSpec) -> tuple[VariantArtifact, ...]:
    """One artifact per production variant, primary first."""
    primary = VariantArtifact(primary_variant(spec), spec.model.version, spec.model.artifact)
    extra = tuple(
        VariantArtifact(v.name, v.model_version, v.artifact or spec.model.artifact)
        for v in spec.rollout.variants
    )
    return (primary, *extra)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` as (bucket, key)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    if not bucket or not key:
        raise ArtifactError(f"{uri!r} is not an s3://bucket/key URI")
    return bucket, key


def model_archive(source: str, cache_dir: Path | None = None) -> Path:
    """A `model.tar.gz` for local artifact `source`, a bundle folder."""
    path = Path(source)
    if not path.is_dir():
        raise ArtifactError(f"model.artifact: {source} is not a bundle folder")
    data = _reproducible_tar(path)
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = cache_dir or Path(tempfile.gettempdir()) / "inferstack-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"{path.name}-{digest}.tar.gz"
    if not archive.exists():
        archive.write_bytes(data)
    return archive


def _reproducible_tar(folder: Path) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = tarfile.TarInfo(file.relative_to(folder).as_posix())
            info.size = file.stat().st_size
            info.mode = 0o644
            with file.open("rb") as stream:
                tar.addfile(info, stream)
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()
