"""The pinned Pulumi CLI release (`pulumi_release.json`): version, URL and checksums.

`make up` installs this release when no `pulumi` is on PATH (see `bootstrap.py`). The
checksums are data, not code, so moving the pin is one reviewed file change; a platform
without a checksum is refused rather than installed unverified.
"""

from __future__ import annotations

import json
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from inferstack.components.errors import DeployError

RELEASE_FILE = Path(__file__).with_name("pulumi_release.json")
SUMS_URL = "https://github.com/pulumi/pulumi/releases/download/v{version}/SHA256SUMS"

# platform.system()/machine() values to the names in Pulumi's archive file names.
_SYSTEMS = {"Linux": "linux", "Darwin": "darwin"}
_MACHINES = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}
_SHA256 = re.compile(r"[0-9a-f]{64}")


class BootstrapError(DeployError):
    """The Pulumi CLI could not be installed; the message says how to install it by hand."""


@dataclass(frozen=True)
class Release:
    """One Pulumi CLI release and the sha256 of its archive for each platform."""

    version: str
    """Without the leading `v`, e.g. `3.259.0`."""
    url: str
    """Archive URL with `{version}` and `{platform}` placeholders."""
    sha256: dict[str, str]
    """Platform (`linux-x64`, `darwin-arm64`, ...) to the archive's hex sha256."""

    def archive_url(self, platform_key: str, base_url: str | None = None) -> str:
        """The archive's URL; `base_url` replaces everything before the file name."""
        url = self.url.format(version=self.version, platform=platform_key)
        if base_url:
            return f"{base_url.rstrip('/')}/{url.rsplit('/', 1)[1]}"
        return url

    def checksum(self, platform_key: str) -> str:
        """The archive's expected sha256; `BootstrapError` when the data file has none."""
        digest = self.sha256.get(platform_key, "").lower()
        if not _SHA256.fullmatch(digest):
            raise BootstrapError(
                f"no sha256 for the Pulumi CLI v{self.version} on {platform_key} in "
                f"{RELEASE_FILE.name}; refusing to install it unverified (fill it from "
                f"{SUMS_URL.format(version=self.version)}): {manual_install(self.version)}"
            )
        return digest


def manual_install(version: str) -> str:
    """The one-line fix printed whenever the automatic install cannot go on."""
    return (
        f"install it by hand: curl -fsSL https://get.pulumi.com | sh -s -- --version {version} "
        "(then open a new shell so `pulumi` is on PATH)"
    )


def load_release(path: Path = RELEASE_FILE) -> Release:
    """Read a release data file; `BootstrapError` naming the file when it is malformed."""
    try:
        data = json.loads(path.read_text())
        return Release(
            version=str(data["version"]),
            url=str(data["url"]),
            sha256={str(k): str(v) for k, v in dict(data["sha256"]).items()},
        )
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise BootstrapError(f"cannot read the Pulumi release data {path}: {err}") from err


def platform_key(system: str | None = None, machine: str | None = None) -> str:
    """This machine as Pulumi names it in archive names (`linux-x64`, `darwin-arm64`)."""
    system = system or platform.system()
    machine = machine or platform.machine()
    os_name, arch = _SYSTEMS.get(system), _MACHINES.get(machine.lower())
    if os_name is None or arch is None:
        raise BootstrapError(
            f"no Pulumi CLI archive is pinned for {system}/{machine}: "
            "see https://www.pulumi.com/docs/install/ to install it by hand"
        )
    return f"{os_name}-{arch}"
