"""Install the pinned Pulumi CLI into a folder of the project when none is on PATH.

`make up` runs `python -m inferstack.components.cli.bootstrap --dir .pulumi-cli` first:

- `pulumi` on PATH: prints nothing (that one is used);
- already installed in the folder: prints its bin folder, which `make` puts on PATH;
- otherwise downloads the archive of `pulumi_release.json` for this platform, checks its
  sha256 before unpacking anything, unpacks it into `<dir>/v<version>/`, runs
  `pulumi version` and prints the bin folder.

Any failure is one line on stderr (`error: ...`, ending with the manual install
command) and exit 1. `--no-download` (`make down`) only looks. The download has a
bounded time: `--timeout` seconds per network wait and four times that in all.
`INFERSTACK_PULUMI_RELEASES_URL` replaces the archive's base URL (a mirror, or the
tests' server on 127.0.0.1).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from inferstack.components.cli.pulumi_release import (
    RELEASE_FILE,
    BootstrapError,
    Release,
    load_release,
    manual_install,
    platform_key,
)

URL_ENV = "INFERSTACK_PULUMI_RELEASES_URL"
DEFAULT_TIMEOUT_S = 30.0
_CHUNK = 1 << 16


def installed_bin(cli_dir: Path, release: Release) -> Path:
    """Where the release's `pulumi` binaries are once installed under `cli_dir`."""
    return cli_dir.resolve() / f"v{release.version}" / "pulumi"


def download(url: str, dest: Path, timeout_s: float) -> str:
    """Save `url` to `dest`, return its sha256; `BootstrapError` on any failure or when
    it takes longer than four times `timeout_s` in all (a server that trickles)."""
    deadline = time.monotonic() + 4 * timeout_s
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as answer, dest.open("wb") as out:  # noqa: S310  (https, or the configured mirror)
            while chunk := answer.read(_CHUNK):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"incomplete after {4 * timeout_s:g} s")
                digest.update(chunk)
                out.write(chunk)
    except urllib.error.HTTPError as err:
        raise BootstrapError(f"HTTP {err.code} {err.reason}") from err
    except urllib.error.URLError as err:
        if isinstance(err.reason, TimeoutError):
            raise BootstrapError(f"no answer within {timeout_s:g} s") from err
        raise BootstrapError(str(err.reason)) from err
    except TimeoutError as err:
        raise BootstrapError(f"no answer within {timeout_s:g} s ({err})") from err
    except OSError as err:
        raise BootstrapError(str(err)) from err
    return digest.hexdigest()


def unpack(archive: Path, into: Path) -> Path:
    """Unpack a verified archive (no links out, no absolute paths); return its bin folder."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, filter="data")
    except (tarfile.TarError, OSError) as err:
        raise BootstrapError(f"cannot unpack {archive.name}: {err}") from err
    binary = into / "pulumi" / "pulumi"
    if not binary.is_file():
        raise BootstrapError(f"{archive.name} has no pulumi/pulumi")
    return binary.parent


def check_runs(bin_dir: Path) -> str:
    """`pulumi version` of the unpacked CLI; `BootstrapError` when it does not run."""
    try:
        result = subprocess.run(
            [str(bin_dir / "pulumi"), "version"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise BootstrapError(f"the unpacked pulumi does not run: {err}") from err
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise BootstrapError(f"the unpacked `pulumi version` failed: {reason}")
    return result.stdout.strip()


def install(
    release: Release, cli_dir: Path, platform: str, base_url: str | None, timeout_s: float
) -> Path:
    """Download, verify, unpack and check the release; return its bin folder."""
    url = release.archive_url(platform, base_url)
    expected = release.checksum(platform)
    created = not cli_dir.exists()
    cli_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _install_into(release, cli_dir, url, expected, timeout_s)
    finally:
        if created and not any(cli_dir.iterdir()):
            cli_dir.rmdir()  # a failed first install leaves no empty folder behind


def _install_into(
    release: Release, cli_dir: Path, url: str, expected: str, timeout_s: float
) -> Path:
    target = installed_bin(cli_dir, release).parent
    with tempfile.TemporaryDirectory(dir=cli_dir, prefix=".install-") as tmp:
        archive = Path(tmp) / url.rsplit("/", 1)[1]
        try:
            got = download(url, archive, timeout_s)
        except BootstrapError as err:
            raise BootstrapError(f"cannot download the Pulumi CLI from {url}: {err}") from err
        if got != expected:
            raise BootstrapError(
                f"the Pulumi CLI archive from {url} has sha256 {got}, not the pinned "
                f"{expected}; nothing was installed"
            )
        bin_dir = unpack(archive, Path(tmp) / "unpacked")
        version = check_runs(bin_dir)
        print(f"installed the Pulumi CLI {version} into {target}", file=sys.stderr)
        shutil.rmtree(target, ignore_errors=True)
        # A rename within one folder: the install appears whole or not at all.
        (Path(tmp) / "unpacked").rename(target)
    return installed_bin(cli_dir, release)


def ensure_pulumi(
    cli_dir: Path,
    release: Release,
    *,
    allow_download: bool = True,
    base_url: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Path | None:
    """The bin folder to put on PATH for `pulumi`, or None when PATH already has one
    (or, with `allow_download` off, when none is installed either)."""
    if shutil.which("pulumi"):
        return None
    bin_dir = installed_bin(cli_dir, release)
    if (bin_dir / "pulumi").is_file():
        return bin_dir
    if not allow_download:
        return None
    platform = platform_key()
    print(
        f"`pulumi` not found on PATH: installing the pinned Pulumi CLI v{release.version} "
        f"({platform}) into {cli_dir}/",
        file=sys.stderr,
    )
    return install(release, cli_dir, platform, base_url, timeout_s)


def main(argv: list[str] | None = None) -> int:
    """Command line for the Makefile: print the bin folder to put on PATH, if any."""
    parser = argparse.ArgumentParser(prog="python -m inferstack.components.cli.bootstrap")
    parser.add_argument("--dir", type=Path, default=Path(".pulumi-cli"))
    parser.add_argument("--release", type=Path, default=RELEASE_FILE)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S)
    parser.add_argument("--no-download", action="store_true")
    args = parser.parse_args(argv)
    version = "latest"
    try:
        release = load_release(args.release)
        version = release.version
        bin_dir = ensure_pulumi(
            args.dir,
            release,
            allow_download=not args.no_download,
            base_url=os.environ.get(URL_ENV) or None,
            timeout_s=args.timeout,
        )
    except BootstrapError as err:
        message = str(err)
        if "install it by hand" not in message:
            message = f"{message}; {manual_install(version)}"
        print(f"error: `pulumi` not found on PATH and not installed: {message}", file=sys.stderr)
        return 1
    if bin_dir is not None:
        print(bin_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
