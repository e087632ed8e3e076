"""What a bundle may hold: files inside its folder, byte for byte the ones it was made with.

``bundle()`` records the SHA-256 of every file the bundle serves (the artifact, a custom
predictor's module and its files; not ``inferstack.yaml`` itself nor ``__pycache__``) in
the manifest's ``digests``. Before anything is loaded, ``check_files`` refuses a bundle
holding a file or symlink whose real path lies outside the bundle folder, and one
whose recorded files are missing or changed. A bundle made before digests existed
loads with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from inferstack.runtime.contract import MANIFEST_FILE
from inferstack.runtime.errors import BundleError
from inferstack.runtime.manifest import Manifest

log = logging.getLogger("inferstack.runtime")

_SKIPPED_DIRS = frozenset({"__pycache__"})


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bundle_files(bundle_dir: Path) -> list[str]:
    """Paths (POSIX, relative) of the files a bundle serves, sorted."""
    out = []
    for root, dirs, files in os.walk(bundle_dir):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for name in files:
            rel = (Path(root) / name).relative_to(bundle_dir).as_posix()
            if rel != MANIFEST_FILE:
                out.append(rel)
    return sorted(out)


def file_digests(bundle_dir: Path) -> dict[str, str]:
    """``{path: sha256}`` of every file the bundle serves (what ``bundle()`` records)."""
    return {rel: sha256_file(bundle_dir / rel) for rel in bundle_files(bundle_dir)}


def check_inside(bundle_dir: Path) -> None:
    """Refuse any file or symlink whose real path lies outside ``bundle_dir``."""
    root = bundle_dir.resolve()
    for current, dirs, files in os.walk(bundle_dir):
        for name in (*dirs, *files):
            path = Path(current) / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                rel = path.relative_to(bundle_dir).as_posix()
                raise BundleError(
                    f"bundle file '{rel}' is a symlink to '{path.resolve()}', outside the "
                    f"bundle folder '{root}': copy the file into the bundle instead"
                )


def served_files(manifest: Manifest) -> list[str]:
    """Files read by name: the artifact, a custom predictor's module, reference samples."""
    names = [manifest.artifact] if manifest.artifact else []
    if manifest.reference_samples:
        names.append(manifest.reference_samples)
    if manifest.predictor:
        names.append(manifest.predictor.partition(":")[0].replace(".", "/") + ".py")
    return names


def check_files(bundle_dir: Path, manifest: Manifest) -> None:
    """Refuse files outside the bundle and any recorded file that is missing or changed."""
    bundle_dir = Path(bundle_dir)
    check_inside(bundle_dir)
    if manifest.digests is None:
        log.warning(
            "bundle has no digests: its files cannot be checked (re-bundle to record them)",
            extra={"bundle": str(bundle_dir)},
        )
        return
    for rel in served_files(manifest):
        if rel not in manifest.digests and (bundle_dir / rel).is_file():
            raise BundleError(f"bundle file '{rel}' is served but has no recorded digest")
    for rel, expected in manifest.digests.items():
        path = bundle_dir / rel
        if not path.is_file():
            what = "artifact" if rel == manifest.artifact else "bundle file"
            raise BundleError(
                f"{what} '{rel}' not found in bundle '{bundle_dir}' (digests list it)"
            )
        actual = sha256_file(path)
        if actual != expected:
            raise BundleError(
                f"bundle file '{rel}' changed since bundling: its sha256 is {actual}, the "
                f"manifest records {expected}; re-bundle it, or restore the original"
            )
