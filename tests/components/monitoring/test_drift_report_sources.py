"""The GCS and Azure Blob sources through fakes with the SDKs' interfaces (no emulator
of either installs from PyPI or Debian here): prefix listing, gzip objects, errors
named with the location."""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from typing import Any

import pytest

from inferstack.components.monitoring import CaptureError, build_report, load_reference
from inferstack.components.monitoring.sources import open_source
from tests.components.monitoring.conftest import (
    LIVE_ROWS,
    LIVE_SEED,
    Bundle,
    draw,
    gzipped,
    object_key,
    records,
)


@dataclass
class _Blob:
    name: str
    data: bytes = b""

    def download_as_bytes(self, raw_download: bool = False) -> bytes:  # storage.Blob
        assert raw_download  # the stored gzip, not a transcoded copy
        return self.data

    def readall(self) -> bytes:  # azure.storage.blob.StorageStreamDownloader
        return self.data


@dataclass
class FakeGcs:
    """`storage.Client`: bucket(name), list_blobs(bucket, prefix=)."""

    objects: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def bucket(self, name: str) -> Any:
        client = self

        class Bucket:
            def __init__(self) -> None:
                self.name, self.client = name, client

            def blob(self, key: str) -> _Blob:
                return _Blob(key, client.objects[name][key])

        return Bucket()

    def list_blobs(self, bucket: Any, prefix: str = "") -> list[_Blob]:
        if bucket.name not in self.objects:
            raise RuntimeError("404 GET bucket: The specified bucket does not exist.")
        return [_Blob(k) for k in self.objects[bucket.name] if k.startswith(prefix)]


@dataclass
class FakeBlobService:
    """`BlobServiceClient`: get_container_client(name).list_blobs / download_blob."""

    blobs: dict[str, bytes] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def get_container_client(self, container: str) -> Any:
        service = self
        service.asked.append(container)

        class Container:
            def list_blobs(self, name_starts_with: str | None = None) -> list[_Blob]:
                return [_Blob(k) for k in service.blobs if k.startswith(name_starts_with or "")]

            def download_blob(self, key: str) -> _Blob:
                return _Blob(key, service.blobs[key])

        return Container()


def _objects(b: Bundle) -> dict[str, bytes]:
    live = draw(LIVE_ROWS, seed=LIVE_SEED, shift_a=0.6, colors=(0.2, 0.3, 0.5))
    items = records(b, live)
    return {
        object_key("capture", 0): gzipped(items[:10]),
        object_key("capture", 1): gzipped(items[10:]),
        "capture/churn/1.0.0/notes.txt": b"not a capture object",
        "elsewhere/x.jsonl.gz": gzip.compress(b"{}\n"),
    }


def test_a_gcs_prefix(drift_bundle: Bundle) -> None:
    client = FakeGcs({"caps": _objects(drift_bundle)})
    source = open_source("gs://caps/capture", client=client)
    report = build_report(source, load_reference(drift_bundle.path))
    assert report.objects == 2
    assert report.rows_scored == LIVE_ROWS
    assert set(report.drifted) == {"a", "color"}


def test_an_azure_container_prefix(drift_bundle: Bundle) -> None:
    service = FakeBlobService(_objects(drift_bundle))
    uri = "https://stchurn.blob.core.windows.net/capture-churn-prod/capture"
    report = build_report(open_source(uri, client=service), load_reference(drift_bundle.path))
    assert service.asked == ["capture-churn-prod"]
    assert report.objects == 2
    assert set(report.drifted) == {"a", "color"}


def test_gcs_with_the_real_sdk_on_the_emulator_reads_the_runtimes_own_sink(
    drift_bundle: Bundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Objects written by the runtime's GCS sink (gzip, Content-Encoding: gzip) to a
    local GCS emulator on 127.0.0.1, read back by the report through the real SDK."""
    pytest.importorskip("google.cloud.storage")
    emulator = pytest.importorskip("gcp_storage_emulator.server")
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    from inferstack.runtime.capture_sinks import object_sink
    from tests.runtime.server import free_port

    port = free_port()
    server = emulator.create_server("127.0.0.1", port, in_memory=True, default_bucket="caps")
    server.start()
    try:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
        sink = object_sink("gs://caps/capture", "churn", "1.0.0")
        live = draw(LIVE_ROWS, seed=LIVE_SEED, shift_a=0.6, colors=(0.2, 0.3, 0.5))
        items = records(drift_bundle, live)
        sink.write(items[:20])
        sink.write([*items[20:], {"kind": "feedback", "id": "r0", "outcome": 1, "ts": 1.0}])
        client = storage.Client(project="test", credentials=AnonymousCredentials())
        report = build_report(
            open_source("gs://caps/capture", client=client), load_reference(drift_bundle.path)
        )
    finally:
        server.stop()
    assert report.objects == 2
    assert report.rows_scored == LIVE_ROWS
    assert report.ignored == {"feedback": 1}
    assert set(report.drifted) == {"a", "color"}


def test_sdk_errors_and_bad_gzip_name_the_location(drift_bundle: Bundle) -> None:
    reference = load_reference(drift_bundle.path)
    with pytest.raises(CaptureError, match=r"cannot list 'gs://missing/x'.*does not exist"):
        build_report(open_source("gs://missing/x", client=FakeGcs()), reference)
    broken = FakeGcs({"caps": {object_key("capture", 0): b"\x1f\x8b not gzip"}})
    with pytest.raises(CaptureError, match=r"is not valid gzip"):
        build_report(open_source("gs://caps/capture", client=broken), reference)
