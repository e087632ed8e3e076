"""The installed inferstack version, read once from the package metadata."""

from __future__ import annotations

from functools import cache
from importlib import metadata


@cache
def inferstack_version() -> str:
    """The installed inferstack version ("0+unknown" when run from an uninstalled tree)."""
    try:
        return metadata.version("inferstack")
    except metadata.PackageNotFoundError:
        return "0+unknown"
