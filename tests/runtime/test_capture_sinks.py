"""Capture from a real server: request ids in headers and records, a local folder under
load, S3 through moto's server mode (layout, SSE-KMS), a failing or stalled store that
never fails a request, GCS and Azure Blob through their SDKs against local emulators."""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from inferstack.runtime.contract import REQUEST_ID_HEADER
from tests.runtime.conftest import Built
from tests.runtime.server import RuntimeServer, free_port, metric_value

MV = {"model": "logreg-20f", "version": "1.0.0"}
REQUESTS = 120


def _post_many(server: RuntimeServer, rows: np.ndarray, count: int) -> list[httpx.Response]:
    with httpx.Client(timeout=30.0) as client, ThreadPoolExecutor(8) as pool:
        return list(
            pool.map(
                lambda i: client.post(
                    server.url + "/predict",
                    json={"instances": [rows[i % len(rows)].tolist()]},
                ),
                range(count),
            )
        )


def _lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.splitlines() if line]


def test_local_folder_under_load_writes_every_record_with_the_response_id(
    sklearn_bundle: Built, tmp_path: Path, log_dir: Path
) -> None:
    capture = tmp_path / "capture"
    env = {
        "INFERSTACK_CAPTURE_DIR": str(capture),
        "INFERSTACK_CAPTURE_SAMPLE_RATE": "1.0",
        "INFERSTACK_CAPTURE_FLUSH_INTERVAL_S": "0.2",
    }
    rows = sklearn_bundle[2]
    with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server:
        answers = _post_many(server, rows, REQUESTS)
        given = server.post(
            "/invocations",
            json={"instances": [rows[0].tolist()]},
            headers={REQUEST_ID_HEADER: "caller-id.42"},
        )
        unsafe = server.post(
            "/predict",
            json={"instances": [rows[0].tolist()]},
            headers={REQUEST_ID_HEADER: "x" * 500},
        )
        v2 = server.post(
            "/v2/models/logreg-20f/infer",
            json={
                "id": "v2-body-id",
                "inputs": [
                    {
                        "name": "input",
                        "shape": [1, 20],
                        "datatype": "FP64",
                        "data": rows[0].tolist(),
                    }
                ],
            },
        )
    assert all(a.status_code == 200 for a in answers)
    assert given.headers[REQUEST_ID_HEADER] == "caller-id.42"
    assert len(unsafe.headers[REQUEST_ID_HEADER]) < 40  # replaced by a fresh one
    assert v2.status_code == 200, v2.text
    assert v2.headers[REQUEST_ID_HEADER] == "v2-body-id"
    ids = [a.headers[REQUEST_ID_HEADER] for a in answers]
    assert len(set(ids)) == REQUESTS
    records = [r for f in sorted(capture.glob("*.jsonl")) for r in _lines(f.read_bytes())]
    by_id = {r["id"]: r for r in records}
    assert len(records) == REQUESTS + 3
    for answer in answers:
        record = by_id[answer.headers[REQUEST_ID_HEADER]]
        assert record["kind"] == "prediction"
        assert record["outputs"] == answer.json()["predictions"]
        assert set(record) >= {"ts", "model", "version", "id", "route", "inputs", "outputs"}
    assert by_id["caller-id.42"]["route"] == "/invocations"
    assert by_id["v2-body-id"]["route"] == "/v2/models/{name}/infer"


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[dict[str, str]]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
    }
    yield env
    server.stop()


def _boto(env: dict[str, str], service: str) -> Any:
    import boto3

    return boto3.client(
        service,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_s3_objects_land_with_the_layout_and_sse_kms(
    sklearn_bundle: Built, moto_s3: dict[str, str], log_dir: Path
) -> None:
    s3, kms = _boto(moto_s3, "s3"), _boto(moto_s3, "kms")
    s3.create_bucket(Bucket="captures")
    key_arn = kms.create_key(Description="capture")["KeyMetadata"]["Arn"]
    env = {
        **moto_s3,
        "INFERSTACK_CAPTURE_URI": "s3://captures/prod/churn",
        "INFERSTACK_CAPTURE_KMS_KEY": key_arn,
        "INFERSTACK_CAPTURE_SAMPLE_RATE": "1.0",
        "INFERSTACK_CAPTURE_FLUSH_RECORDS": "25",
        "INFERSTACK_CAPTURE_FLUSH_INTERVAL_S": "0.5",
    }
    rows = sklearn_bundle[2]
    with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server:
        answers = _post_many(server, rows, REQUESTS)
        deadline = time.monotonic() + 20
        written = 0.0
        while written < REQUESTS and time.monotonic() < deadline:
            written = metric_value(
                server.get("/metrics").text, "inferstack_capture_written_records_total", sink="s3"
            )
            time.sleep(0.2)
    assert written == REQUESTS
    listed = s3.list_objects_v2(Bucket="captures", Prefix="prod/churn/")["Contents"]
    assert len(listed) >= REQUESTS // 25
    records = []
    for obj in listed:
        parts = obj["Key"].split("/")
        assert parts[:4] == ["prod", "churn", "logreg-20f", "1.0.0"]
        assert [len(p) for p in parts[4:8]] == [4, 2, 2, 2]
        assert parts[8].endswith(".jsonl.gz")
        assert re.fullmatch(r"\d{8}T\d{12}Z-.+-\d+-\d+\.jsonl\.gz", parts[8]), parts[8]
        head = s3.head_object(Bucket="captures", Key=obj["Key"])
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == key_arn
        body = s3.get_object(Bucket="captures", Key=obj["Key"])["Body"].read()
        records += _lines(gzip.decompress(body))
    assert sorted(r["id"] for r in records) == sorted(a.headers[REQUEST_ID_HEADER] for a in answers)
    assert {r["kind"] for r in records} == {"prediction"}


def test_a_failing_store_never_fails_a_request_and_counts_what_it_lost(
    sklearn_bundle: Built, moto_s3: dict[str, str], log_dir: Path
) -> None:
    env = {
        **moto_s3,
        "INFERSTACK_CAPTURE_URI": "s3://no-such-bucket/x",
        "INFERSTACK_CAPTURE_SAMPLE_RATE": "1.0",
        "INFERSTACK_CAPTURE_FLUSH_RECORDS": "5",
        "INFERSTACK_CAPTURE_QUEUE_RECORDS": "10",
        "INFERSTACK_CAPTURE_FLUSH_INTERVAL_S": "0.1",
    }
    with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server:
        answers = _post_many(server, sklearn_bundle[2], 60)
        assert all(a.status_code == 200 for a in answers)
        deadline = time.monotonic() + 30
        lost = 0.0
        while lost < 60 and time.monotonic() < deadline:
            text = server.get("/metrics").text
            lost = metric_value(text, "inferstack_capture_dropped_records_total", sink="s3")
            time.sleep(0.3)
        assert lost == 60
        assert metric_value(text, "inferstack_capture_dropped_records_total", reason="queue_full")
        assert metric_value(text, "inferstack_capture_dropped_records_total", reason="sink_error")
        assert metric_value(text, "inferstack_capture_written_records_total", sink="s3") == 0
        assert server.logs().count("capture sink failed") == 1


def test_a_stalled_store_never_slows_requests(
    sklearn_bundle: Built, moto_s3: dict[str, str], log_dir: Path
) -> None:
    stall = socket.socket()  # accepts connections, never answers
    stall.bind(("127.0.0.1", 0))
    stall.listen(64)
    env = {
        **moto_s3,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{stall.getsockname()[1]}",
        "INFERSTACK_CAPTURE_URI": "s3://stalled/x",
        "INFERSTACK_CAPTURE_SAMPLE_RATE": "1.0",
        "INFERSTACK_CAPTURE_QUEUE_RECORDS": "20",
        "INFERSTACK_CAPTURE_FLUSH_INTERVAL_S": "0.1",
        "INFERSTACK_TIMEOUT_GRACEFUL_SHUTDOWN_S": "2",
    }
    try:
        with RuntimeServer(sklearn_bundle[0], log_dir, env=env) as server:
            answers = _post_many(server, sklearn_bundle[2], 100)
            text = server.get("/metrics").text
    finally:
        stall.close()
    assert all(a.status_code == 200 for a in answers)
    assert max(a.elapsed.total_seconds() for a in answers) < 2.0
    lost = metric_value(text, "inferstack_capture_dropped_records_total", reason="queue_full")
    assert lost >= 100 - 20 - 20  # the queue and one batch in the stalled call


def test_gcs_sink_through_the_sdk_against_the_emulator(tmp_path: Path) -> None:
    pytest.importorskip("google.cloud.storage")
    emulator = pytest.importorskip("gcp_storage_emulator.server")
    port = free_port()
    server = emulator.create_server("127.0.0.1", port, in_memory=True, default_bucket="caps")
    server.start()
    old = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{port}"
    try:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        from inferstack.runtime.capture_sinks import object_sink

        sink = object_sink("gs://caps/pre", "m", "1.0.0")
        sink.write([{"kind": "prediction", "id": "a"}, {"kind": "feedback", "id": "a"}])
        client = storage.Client(project="test", credentials=AnonymousCredentials())
        blobs = list(client.list_blobs("caps", prefix="pre/m/1.0.0/"))
        assert len(blobs) == 1
        assert blobs[0].name.endswith("-0.jsonl.gz")
        data = blobs[0].download_as_bytes(raw_download=True)
        assert [r["kind"] for r in _lines(gzip.decompress(data))] == ["prediction", "feedback"]
    finally:
        if old is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = old
        server.stop()


AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Azurite's blob service on 127.0.0.1, installed with npm once per machine."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("Azure Blob capture test needs node and npm (Azurite); CI: install nodejs")
    home = Path(
        os.environ.get("INFERSTACK_AZURITE_HOME", Path.home() / ".cache/inferstack-azurite")
    )
    binary = home / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(home), "azurite"],
            check=True,
            capture_output=True,
            timeout=600,
        )
    port = free_port()
    work = tmp_path_factory.mktemp("azurite")
    proc = subprocess.Popen(
        [
            str(binary),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "-l",
            str(work),
            "--skipApiVersionCheck",  # the SDK may speak a newer API version than Azurite knows
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/devstoreaccount1"
    finally:
        proc.terminate()
        proc.wait(10)


def test_azure_blob_sink_through_the_sdk_against_azurite(azurite: str) -> None:
    pytest.importorskip("azure.storage.blob")
    from azure.storage.blob import BlobServiceClient

    from inferstack.runtime.capture_sinks import AzureBlobSink

    key = {"account_name": "devstoreaccount1", "account_key": AZURITE_KEY}
    BlobServiceClient(azurite, credential=key).create_container("caps")
    sink = AzureBlobSink(azurite, "caps", "pre", "m", "1.0.0", credential=key)
    sink.write([{"kind": "prediction", "id": "a"}])
    sink.write([{"kind": "feedback", "id": "a", "outcome": 1}])
    container = BlobServiceClient(azurite, credential=key).get_container_client("caps")
    names = sorted(b.name for b in container.list_blobs(name_starts_with="pre/m/1.0.0/"))
    assert [n.rsplit("-", 1)[1] for n in names] == ["0.jsonl.gz", "1.jsonl.gz"]
    props = container.get_blob_client(names[0]).get_blob_properties()
    assert props.content_settings.content_encoding == "gzip"
    raw = container.download_blob(names[1], decompress=False).readall()
    assert _lines(gzip.decompress(raw)) == [{"kind": "feedback", "id": "a", "outcome": 1}]


def test_grpc_answers_carry_the_id_of_their_captured_record(
    sklearn_bundle: Built, tmp_path: Path, log_dir: Path
) -> None:
    grpc = pytest.importorskip("grpc")
    pb = pytest.importorskip("tritonclient.grpc.service_pb2")
    pb_grpc = pytest.importorskip("tritonclient.grpc.service_pb2_grpc")
    capture = tmp_path / "capture"
    port = free_port()
    env = {
        "INFERSTACK_GRPC_PORT": str(port),
        "INFERSTACK_CAPTURE_DIR": str(capture),
        "INFERSTACK_CAPTURE_SAMPLE_RATE": "1.0",
    }
    row = sklearn_bundle[2][0].tolist()

    def infer(stub: Any, request_id: str) -> Any:
        tensor = pb.ModelInferRequest.InferInputTensor(
            name="input-0",
            datatype="FP64",
            shape=[1, 20],
            contents=pb.InferTensorContents(fp64_contents=row),
        )
        request = pb.ModelInferRequest(model_name="logreg-20f", id=request_id, inputs=[tensor])
        return stub.ModelInfer(request, timeout=30)

    with (
        RuntimeServer(sklearn_bundle[0], log_dir, env=env),
        grpc.insecure_channel(f"127.0.0.1:{port}") as channel,
    ):
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        given = infer(stub, "grpc-given")
        fresh = infer(stub, "")
    assert given.id == "grpc-given"
    assert fresh.id
    records = [r for f in capture.glob("*.jsonl") for r in _lines(f.read_bytes())]
    assert {r["id"]: r["route"] for r in records} == {
        "grpc-given": "grpc:ModelInfer",
        fresh.id: "grpc:ModelInfer",
    }
