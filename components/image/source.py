"""The inferstack source tree a runtime image installs from.

From a checkout that is the checkout itself. From `pip install inferstack` it is
rebuilt from the installed package: the package folders are the sources (they
install unchanged under `inferstack/`), and `pyproject.toml` is regenerated from
the installed metadata, so the image gets the same version, dependencies and
extras as the user's own environment.
"""

from __future__ import annotations

import os
import re
import shutil
from importlib import metadata
from pathlib import Path

from inferstack.components.errors import DeployError

SOURCE_PATHS = ("pyproject.toml", "README.md", "components", "policies", "runtime")
PACKAGE_DIRS = ("components", "policies", "runtime")
DOCKERFILE = "runtime/Dockerfile"
SOURCE_DIR_ENV = "INFERSTACK_SOURCE_DIR"
_EXTRA = re.compile(r"""\s*(?:\band\s+)?extra\s*==\s*["']([^"']+)["']""")


class ImageError(DeployError):
    """The runtime image cannot be built from what was given."""


def source_root(cache: Path) -> Path:
    """The checkout, `$INFERSTACK_SOURCE_DIR`, or a tree rebuilt from the installed package."""
    configured = os.environ.get(SOURCE_DIR_ENV)
    if configured:
        return _complete(Path(configured).resolve(), f"{SOURCE_DIR_ENV}={configured}")
    import inferstack.runtime

    package = Path(inferstack.runtime.__file__).resolve().parent.parent
    if (package / "pyproject.toml").is_file():
        return _complete(package, "the checkout")
    return installed_source_tree(package, cache)


def _complete(root: Path, what: str) -> Path:
    missing = [p for p in (*SOURCE_PATHS, DOCKERFILE) if not (root / p).exists()]
    if missing:
        raise ImageError(
            f"{what} ({root}) is not an inferstack source tree: it lacks {', '.join(missing)}"
        )
    return root


def installed_source_tree(package: Path, cache: Path) -> Path:
    """A source tree under `cache` made from the installed package folder `package`."""
    missing = [d for d in (*PACKAGE_DIRS, DOCKERFILE) if not (package / d).exists()]
    if missing:
        raise ImageError(
            f"the installed inferstack at {package} lacks {', '.join(missing)}; reinstall it, "
            f"or set {SOURCE_DIR_ENV} to a checkout"
        )
    version = metadata.version("inferstack")
    dest = cache / f"source-{version}"
    shutil.rmtree(dest, ignore_errors=True)
    for name in PACKAGE_DIRS:
        shutil.copytree(
            package / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    (dest / "README.md").write_text(f"inferstack {version}, rebuilt from the installed package\n")
    (dest / "pyproject.toml").write_text(pyproject_from_metadata(dest))
    return dest


def pyproject_from_metadata(tree: Path) -> str:
    """A pyproject.toml for `tree` with the installed inferstack's name, version and extras."""
    base: list[str] = []
    extras: dict[str, list[str]] = {}
    for requirement in metadata.requires("inferstack") or []:
        name, _, marker = requirement.partition(";")
        match = _EXTRA.search(marker)
        if match is None:
            base.append(requirement.strip())
            continue
        rest = _EXTRA.sub("", marker).strip().removeprefix("and ").strip()
        extras.setdefault(match[1], []).append(f"{name.strip()}; {rest}" if rest else name.strip())
    packages = sorted(
        ".".join(("inferstack", *init.parent.relative_to(tree).parts))
        for name in PACKAGE_DIRS
        for init in (tree / name).rglob("__init__.py")
    )
    lines = [
        "[build-system]",
        'requires = ["setuptools>=69"]',
        'build-backend = "setuptools.build_meta"',
        "",
        "[project]",
        'name = "inferstack"',
        f'version = "{metadata.version("inferstack")}"',
        'requires-python = ">=3.11"',
        f"dependencies = {_toml_list(base)}",
        "",
        "[project.optional-dependencies]",
        *(f"{extra} = {_toml_list(reqs)}" for extra, reqs in sorted(extras.items())),
        "",
        "[tool.setuptools]",
        f"packages = {_toml_list(packages)}",
        "",
        "[tool.setuptools.package-dir]",
        *(f'"inferstack.{name}" = "{name}"' for name in PACKAGE_DIRS),
        "",
        "[tool.setuptools.package-data]",
        '"*" = ["*.yaml", "*.json", "Dockerfile", "py.typed"]',
        '"inferstack.runtime" = ["docker/*"]',
    ]
    return "\n".join(lines) + "\n"


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join('"' + item.replace('"', "'") + '"' for item in items) + "]"
