"""The runtime image's build context, its content hash, and its build arguments.

`RuntimeImage` (Pulumi) and `inferstack build` (the Docker engine directly) build
the same image the same way: a context folder holding the inferstack sources
(`SOURCE_PATHS`), the model bundle at `bundle/` and the image's pip requirements at
`image-requirements.txt` (see `install`), built from `runtime/Dockerfile`'s `model`
stage. The tag is derived from the hash of exactly that content plus the build
arguments, so an unchanged model on an unchanged inferstack keeps its tag and nothing
rebuilds or redeploys, and another requirement set is another tag. Nothing here
imports Pulumi or talks to Docker.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from inferstack.components.image.install import (
    check_build_requirements,
    check_extras,
    framework_install,
    image_requirements,
    requirements_file,
)
from inferstack.components.image.source import DOCKERFILE, SOURCE_PATHS, ImageError, source_root
from inferstack.runtime.manifest import Manifest
from inferstack.runtime.version import inferstack_version

BUNDLE_IN_CONTEXT = "bundle"
BUILD_TARGET = "model"
MANIFEST = "inferstack.yaml"

CPU_BASE_IMAGE = "python:3.11-slim"
GPU_BASE_IMAGE = "nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04"
REQUIREMENTS_IN_CONTEXT = "image-requirements.txt"

_SKIP_NAMES = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".DS_Store"}
_SKIP_SUFFIXES = (".pyc", ".pyo")
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True)
class BuildFlavor:
    """CPU or GPU: the base image, and which build of each framework pip installs."""

    base_image: str
    """Image the builder and final stages start from."""
    gpu: bool = False
    """Whether this is the GPU flavour (CUDA base, GPU builds of the frameworks)."""

    def build_args(
        self, manifest: Manifest, requirements: Sequence[str] = (), extras: Sequence[str] = ()
    ) -> dict[str, str]:
        """The Dockerfile's build arguments for a bundle of `manifest` in this flavour;
        `extras` are inferstack extras added to the framework's."""
        install = framework_install(manifest.framework, self.gpu)
        args = {
            "BASE_IMAGE": self.base_image,
            "EXTRAS": ",".join(dict.fromkeys([*install.extras, *check_extras(extras)])),
            "REQUIREMENTS": REQUIREMENTS_IN_CONTEXT,
        }
        if install.extra_index_url:
            args["PIP_EXTRA_INDEX_URL"] = install.extra_index_url
        if install.apt_packages:
            args["APT_PACKAGES"] = " ".join(install.apt_packages)
        return args

    def requirements(self, manifest: Manifest, added: Sequence[str] = ()) -> tuple[str, ...]:
        """The pip requirements beside the extras: framework builds, the saved
        framework's minor version, the bundle's and the build's requirements."""
        install = framework_install(manifest.framework, self.gpu)
        return image_requirements(manifest, install, self.gpu, added)


def flavor(gpu: bool = False, base_image: str | None = None) -> BuildFlavor:
    """The CPU or GPU flavour, optionally on another base image."""
    return BuildFlavor(base_image or (GPU_BASE_IMAGE if gpu else CPU_BASE_IMAGE), gpu)


def _walk(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.iterdir()):
        if path.name in _SKIP_NAMES or path.name.endswith(_SKIP_SUFFIXES):
            continue
        if path.is_dir():
            yield from _walk(path)
        elif path.is_file():
            yield path


def context_files(source: Path, bundle_dir: Path) -> list[tuple[str, Path]]:
    """Every file of the build context: (path inside the context, path on disk)."""
    files: list[tuple[str, Path]] = []
    for entry in SOURCE_PATHS:
        path = source / entry
        found = _walk(path) if path.is_dir() else iter([path])
        files += [(f.relative_to(source).as_posix(), f) for f in found]
    files += [
        (f"{BUNDLE_IN_CONTEXT}/{f.relative_to(bundle_dir).as_posix()}", f)
        for f in _walk(bundle_dir)
    ]
    return files


def check_bundle(bundle_dir: Path) -> Path:
    """`bundle_dir` resolved, or `ImageError` when it is not a bundle folder."""
    bundle_dir = Path(bundle_dir).resolve()
    if not (bundle_dir / MANIFEST).is_file():
        raise ImageError(f"{bundle_dir} is not a model bundle: it has no {MANIFEST}")
    return bundle_dir


def content_digest(
    source: Path, bundle_dir: Path, build_args: dict[str, str], requirements: str = ""
) -> str:
    """sha256 over the context's paths and bytes, the requirements file and the build
    arguments."""
    digest = hashlib.sha256()
    for rel, path in context_files(source, bundle_dir):
        digest.update(rel.encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(REQUIREMENTS_IN_CONTEXT.encode() + b"\0")
    digest.update(hashlib.sha256(requirements.encode()).digest())
    digest.update(json.dumps(build_args, sort_keys=True).encode())
    return digest.hexdigest()


def image_tag(model_version: str, digest: str) -> str:
    """`<version>-<12 hex of the content hash>`, safe as a Docker tag."""
    return _TAG_UNSAFE.sub("-", f"{model_version}-{digest[:12]}")[:128]


def cache_dir() -> Path:
    """Where `inferstack build` stages contexts ($XDG_CACHE_HOME/inferstack/contexts)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "inferstack" / "contexts"


PROGRAM_STAGING = Path(".inferstack") / "contexts"
"""Where `RuntimeImage` stages contexts: relative to the Pulumi program's working
directory (`stacks/` in this project), which is also the provider's."""
STAGING_ENV = "INFERSTACK_BUILD_DIR"
"""Overrides `PROGRAM_STAGING` (tests; a checkout on a read-only file system)."""


def program_staging_dir() -> Path:
    """Where `RuntimeImage` stages build contexts, as the path given to the provider.

    Pulumi stores the build block and, for an unchanged image (`ignore_changes`), hands
    the provider the stored one: a path relative to the program's folder resolves on
    any machine and checkout, where an absolute cache path would not. The folder holds
    a `.gitignore` of `*`, so it never shows up in `git status`.
    """
    override = os.environ.get(STAGING_ENV)
    if override:
        return Path(os.path.relpath(override))
    PROGRAM_STAGING.mkdir(parents=True, exist_ok=True)
    ignore = PROGRAM_STAGING.parent / ".gitignore"
    if not ignore.is_file():
        ignore.write_text("# staged image build contexts (inferstack); `make clean-images`\n*\n")
    return PROGRAM_STAGING


def stage_context(source: Path, bundle_dir: Path, dest: Path, requirements: str = "") -> Path:
    """Copy the context's files into `dest`, with the image's requirements file (once: a
    staged context never changes).

    Modes are normalised (files 0644 or 0755, folders 0755): `COPY` keeps them, and
    the server runs as a non-root user, so a bundle saved under `umask 077` would
    otherwise be unreadable in the image.
    """
    done = dest / ".staged"
    if done.is_file():
        return dest
    partial = dest.with_name(dest.name + f".partial-{os.getpid()}")
    shutil.rmtree(partial, ignore_errors=True)
    for rel, path in context_files(source, bundle_dir):
        target = partial / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        target.chmod(0o755 if path.stat().st_mode & 0o111 else 0o644)
    (partial / REQUIREMENTS_IN_CONTEXT).write_text(requirements, encoding="utf-8")
    (partial / REQUIREMENTS_IN_CONTEXT).chmod(0o644)
    for folder in (partial, *(p for p in partial.rglob("*") if p.is_dir())):
        folder.chmod(0o755)
    (partial / ".staged").write_text("complete\n")
    shutil.rmtree(dest, ignore_errors=True)
    partial.rename(dest)
    return dest


@dataclass(frozen=True)
class BuildPlan:
    """Everything one image build needs: context, Dockerfile, arguments, tag."""

    context: Path
    dockerfile: Path
    build_args: dict[str, str]
    tag: str
    digest: str
    requirements: tuple[str, ...] = ()
    """What pip installs beside the extras (also `image-requirements.txt` in the context)."""

    def docker_command(self, image: str, network: str | None = None) -> list[str]:
        """`docker build` argv producing `image` from this plan."""
        argv = [
            "docker",
            "build",
            "--file",
            str(self.dockerfile),
            "--target",
            BUILD_TARGET,
            "--tag",
            image,
        ]
        for key, value in sorted(self.build_args.items()):
            argv += ["--build-arg", f"{key}={value}"]
        if network:
            argv += ["--network", network]
        return [*argv, str(self.context)]


def read_bundle_manifest(bundle_dir: Path) -> Manifest:
    """The bundle's manifest; `ImageError` naming the problem when it is not valid."""
    from inferstack.runtime.errors import BundleError
    from inferstack.runtime.manifest import read_manifest

    try:
        return read_manifest(check_bundle(bundle_dir))
    except BundleError as err:
        raise ImageError(str(err)) from err


def plan_build(
    bundle_dir: Path,
    model_name: str,
    model_version: str,
    build_flavor: BuildFlavor,
    staging: Path | None = None,
    *,
    requirements: Sequence[str] = (),
    extras: Sequence[str] = (),
) -> BuildPlan:
    """Stage the context for `bundle_dir` and return how to build it.

    `requirements` are pip requirements the build adds to the bundle's own; `extras`
    are inferstack extras installed beside the flavour's (a capture sink's SDK).
    """
    bundle_dir = check_bundle(bundle_dir)
    manifest = read_bundle_manifest(bundle_dir)
    wanted = build_flavor.requirements(manifest, check_build_requirements(requirements))
    text = requirements_file(manifest, wanted)
    source = source_root(staging or cache_dir())
    args = {
        **build_flavor.build_args(manifest, extras=extras),
        "MODEL_NAME": model_name,
        "MODEL_VERSION": model_version,
        "BUNDLE": BUNDLE_IN_CONTEXT,
        "INFERSTACK_VERSION": inferstack_version(),
    }
    digest = content_digest(source, bundle_dir, args, text)
    context = stage_context(source, bundle_dir, (staging or cache_dir()) / digest[:32], text)
    return BuildPlan(
        context, context / DOCKERFILE, args, image_tag(model_version, digest), digest, wanted
    )
