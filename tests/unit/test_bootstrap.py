"""`make up` installs the pinned Pulumi CLI when none is on PATH: a local HTTP server on
127.0.0.1 serves a fake release archive (good checksum, bad checksum, no answer)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from inferstack.components.cli.pulumi_release import (
    BootstrapError,
    load_release,
    platform_key,
)
from tests.conftest import ROOT

VERSION = "3.259.0"
FAKE_PULUMI = f"#!/bin/sh\necho v{VERSION}\n"


def fake_archive(script: str = FAKE_PULUMI) -> bytes:
    """A release archive laid out like Pulumi's: pulumi/pulumi and a language host."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in (("pulumi/pulumi", script), ("pulumi/pulumi-language-python", "")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class Releases(http.server.BaseHTTPRequestHandler):
    """Serves `files` (name to bytes) and counts the requests."""

    files: dict[str, bytes] = {}
    requests: list[str] = []

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        body = self.files.get(self.path.removeprefix("/releases/"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[Releases]]]:
    handler = type("Handler", (Releases,), {"files": {}, "requests": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/releases", handler
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def release_file(tmp_path: Path, sha256: str) -> Path:
    path = tmp_path / "release.json"
    path.write_text(
        json.dumps(
            {
                "version": VERSION,
                "url": "https://get.pulumi.com/releases/sdk/pulumi-v{version}-{platform}.tar.gz",
                "sha256": {platform_key(): sha256},
            }
        )
    )
    return path


def archive_name() -> str:
    return f"pulumi-v{VERSION}-{platform_key()}.tar.gz"


def bare_path(tmp_path: Path) -> str:
    """A PATH with make and a shell but neither pulumi nor docker."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("make", "sh", "bash", "mkdir", "env"):
        found = shutil.which(tool)
        if found and not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def bootstrap(
    tmp_path: Path, release: Path, url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "inferstack.components.cli.bootstrap",
            "--dir",
            str(tmp_path / "cli"),
            "--release",
            str(release),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "PATH": bare_path(tmp_path), "INFERSTACK_PULUMI_RELEASES_URL": url},
    )


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_good_checksum_installs_a_cli_that_runs(tmp_path: Path, server) -> None:
    url, handler = server
    archive = fake_archive()
    handler.files[archive_name()] = archive
    release = release_file(tmp_path, hashlib.sha256(archive).hexdigest())

    result = bootstrap(tmp_path, release, url)
    assert result.returncode == 0, result.stderr
    bin_dir = Path(result.stdout.strip())
    assert bin_dir == (tmp_path / "cli" / f"v{VERSION}" / "pulumi").resolve()
    version = subprocess.run(
        [str(bin_dir / "pulumi"), "version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"v{VERSION}"
    assert f"installed the Pulumi CLI v{VERSION}" in result.stderr
    assert handler.requests == [f"/releases/{archive_name()}"]

    # Installed once: later runs (and `make down`) use it without a download.
    again = bootstrap(tmp_path, release, url)
    assert again.stdout.strip() == str(bin_dir)
    assert bootstrap(tmp_path, release, url, "--no-download").stdout.strip() == str(bin_dir)
    assert len(handler.requests) == 1
    assert [p.name for p in (tmp_path / "cli").iterdir()] == [f"v{VERSION}"]


def test_bad_checksum_refuses_and_installs_nothing(tmp_path: Path, server) -> None:
    url, handler = server
    handler.files[archive_name()] = fake_archive('#!/bin/sh\necho "not what was pinned"\n')
    release = release_file(tmp_path, hashlib.sha256(fake_archive()).hexdigest())

    result = bootstrap(tmp_path, release, url)
    assert result.returncode == 1
    line = error_line(result)
    assert "not the pinned" in line
    assert "nothing was installed" in line
    assert "curl -fsSL https://get.pulumi.com | sh -s -- --version 3.259.0" in line
    assert result.stdout == ""
    assert not (tmp_path / "cli").exists()


def test_no_answer_fails_in_one_line_within_the_timeout(tmp_path: Path) -> None:
    # A listener that accepts connections but never answers.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/releases"
        release = release_file(tmp_path, "0" * 64)
        started = time.monotonic()
        result = bootstrap(tmp_path, release, url, "--timeout", "1")
        elapsed = time.monotonic() - started
    assert result.returncode == 1
    line = error_line(result)
    assert "cannot download the Pulumi CLI from http://127.0.0.1:" in line
    assert "no answer within 1 s" in line
    assert "install it by hand: curl -fsSL https://get.pulumi.com" in line
    assert elapsed < 30
    assert not (tmp_path / "cli").exists()


def test_missing_archive_names_the_http_status(tmp_path: Path, server) -> None:
    url, _ = server
    result = bootstrap(tmp_path, release_file(tmp_path, "0" * 64), url)
    assert result.returncode == 1
    assert "HTTP 404" in error_line(result)


def test_a_platform_without_a_checksum_is_refused_before_any_download(
    tmp_path: Path, server
) -> None:
    url, handler = server
    handler.files[archive_name()] = fake_archive()
    result = bootstrap(tmp_path, release_file(tmp_path, ""), url)
    assert result.returncode == 1
    line = error_line(result)
    assert "refusing to install it unverified" in line
    assert f"releases/download/v{VERSION}/SHA256SUMS" in line
    assert handler.requests == []


def test_pulumi_on_path_is_used_as_it_is(tmp_path: Path, server) -> None:
    url, handler = server
    bin_dir = Path(bare_path(tmp_path))
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    result = bootstrap(tmp_path, release_file(tmp_path, "0" * 64), url)
    assert result.returncode == 0
    assert result.stdout == ""
    assert handler.requests == []


def test_the_shipped_release_pins_every_platform() -> None:
    release = load_release()
    for key in ("linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"):
        assert len(release.checksum(key)) == 64
        assert release.archive_url(key) == (
            f"https://get.pulumi.com/releases/sdk/pulumi-v{release.version}-{key}.tar.gz"
        )
    with pytest.raises(BootstrapError, match="no Pulumi CLI archive is pinned for Windows"):
        platform_key("Windows", "AMD64")


def test_make_up_installs_the_cli_then_stops_at_the_doctor_without_docker(
    tmp_path: Path, server
) -> None:
    """The bootstrapped CLI is on PATH for the doctor; a missing Docker engine still
    stops `make up` with the doctor's message, before anything is created."""
    url, handler = server
    archive = fake_archive()
    handler.files[archive_name()] = archive
    release = release_file(tmp_path, hashlib.sha256(archive).hexdigest())
    state = tmp_path / "state"
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv/.up-installed",
            "up",
            f"PULUMI_CLI_DIR={tmp_path / 'cli'}",
            f"BOOTSTRAP_ARGS=--release {release} --timeout 5",
            f"PULUMI_BACKEND_URL=file://{state}",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=300,
        env={
            **os.environ,
            "PATH": bare_path(tmp_path),
            "INFERSTACK_PULUMI_RELEASES_URL": url,
            "COLUMNS": "200",
        },
    )
    report = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"installed the Pulumi CLI v{VERSION}" in report
    assert "`docker` not found on PATH" in report
    assert "make cannot continue; nothing was created or changed" in report
    assert "`pulumi` not found on PATH" not in report.split("installed the Pulumi CLI")[1]
    assert (tmp_path / "cli" / f"v{VERSION}" / "pulumi" / "pulumi").is_file()
    assert not state.exists()
