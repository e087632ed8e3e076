"""The drift report reading an S3 prefix through moto's server on 127.0.0.1: the
runtime's gzip objects and SageMaker's data capture, decoded and scored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from inferstack.components.cli.app import app
from inferstack.components.monitoring import build_report, load_reference, open_source
from inferstack.components.monitoring.records import Captured, Skipped, decode_line
from tests.components.monitoring.conftest import (
    LIVE_ROWS,
    LIVE_SEED,
    Bundle,
    draw,
    gzipped,
    jsonl,
    object_key,
    records,
    sagemaker_record,
)

BUCKET = "capture-bucket"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A boto3 S3 client on moto's server; the default client (the CLI's) points there too."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": url,
    }.items():
        monkeypatch.setenv(key, value)
    client = boto3.client("s3", endpoint_url=url)
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client
    finally:
        server.stop()


def test_runtime_objects_under_an_s3_prefix(drift_bundle: Bundle, s3: Any) -> None:
    live = draw(LIVE_ROWS, seed=LIVE_SEED, shift_a=0.6, colors=(0.2, 0.3, 0.5))
    items = records(drift_bundle, live)
    half = len(items) // 2
    s3.put_object(Bucket=BUCKET, Key=object_key("capture", 0), Body=gzipped(items[:half]))
    s3.put_object(Bucket=BUCKET, Key=object_key("capture", 1), Body=gzipped(items[half:]))
    s3.put_object(Bucket=BUCKET, Key="other/x.jsonl.gz", Body=b"not under the prefix")
    report = build_report(
        open_source(f"s3://{BUCKET}/capture/", client=s3), load_reference(drift_bundle.path)
    )
    assert report.objects == 2
    assert report.rows_scored == LIVE_ROWS
    assert set(report.drifted) == {"a", "color"}


def test_the_runtimes_own_s3_sink_then_the_cli(
    drift_bundle: Bundle, s3: Any, tmp_path: Path
) -> None:
    """Objects the runtime's S3 sink writes (its layout, gzip) read back by the CLI."""
    from inferstack.runtime.capture_sinks import object_sink

    sink = object_sink(f"s3://{BUCKET}/capture/churn-prod", "churn", "1.0.0")
    live = draw(LIVE_ROWS, seed=LIVE_SEED)
    items = records(drift_bundle, live)
    for start in range(0, len(items), 8):
        sink.write(items[start : start + 8])
    done = CliRunner().invoke(
        app,
        [
            "drift-report",
            f"s3://{BUCKET}/capture/churn-prod",
            "--bundle",
            str(drift_bundle.path),
            "--out",
            str(tmp_path / "out"),
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["objects"] == len(range(0, len(items), 8))
    assert data["rows"]["scored"] == LIVE_ROWS
    assert data["drifted"] == []  # unshifted traffic


def test_sagemaker_data_capture_is_decoded_and_scored_through_the_cli(
    drift_bundle: Bundle, s3: Any, tmp_path: Any
) -> None:
    live = draw(LIVE_ROWS, seed=LIVE_SEED, shift_a=0.6, colors=(0.2, 0.3, 0.5))
    probs = drift_bundle.model.predict_proba(live).tolist()
    rows = live.to_numpy().tolist()
    lines = [
        sagemaker_record(rows[i : i + 40], probs[i : i + 40], "BASE64" if i % 80 else "JSON")
        for i in range(0, LIVE_ROWS, 40)
    ]
    key = "datacapture/churn-endpoint/AllTraffic/2026/01/01/10/12-34-56-789-abcd.jsonl"
    s3.put_object(Bucket=BUCKET, Key=key, Body=jsonl(lines))
    out = tmp_path / "out"
    done = CliRunner().invoke(
        app,
        [
            "drift-report",
            f"s3://{BUCKET}/datacapture",
            "--bundle",
            str(drift_bundle.path),
            "--out",
            str(out),
            "--json",
        ],
    )
    assert done.exit_code == 0, done.output
    data = json.loads(done.output)
    assert data["record_formats"] == {"sagemaker": LIVE_ROWS // 40}
    assert data["rows"]["scored"] == LIVE_ROWS
    assert set(data["drifted"]) == {"a", "color"}
    assert data["prediction"]["verdict"] == "drift"
    assert data["time_range"]["first"] == "2026-01-01T10:00:00+00:00"


def test_sagemaker_csv_and_broken_records() -> None:
    csv = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "data": "1,2,3,red\n4,5,6,blue",
                "encoding": "CSV",
            },
            "endpointOutput": {
                "observedContentType": "text/csv",
                "data": "0.2\n0.9",
                "encoding": "CSV",
            },
        }
    }
    found = decode_line(json.dumps(csv).encode())
    assert isinstance(found, Captured)
    assert found.rows == [[1.0, 2.0, 3.0, "red"], [4.0, 5.0, 6.0, "blue"]]
    assert found.outputs == [0.2, 0.9]
    bad = {"captureData": {"endpointInput": {"data": "@@", "encoding": "BASE64"}}}
    assert isinstance(decode_line(json.dumps(bad).encode()), Skipped)
    odd = {"captureData": {"endpointInput": {"data": "{}", "encoding": "XML"}}}
    skipped = decode_line(json.dumps(odd).encode())
    assert skipped == Skipped("SageMaker record: unknown encoding 'XML'")
