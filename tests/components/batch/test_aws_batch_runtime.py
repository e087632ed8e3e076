"""The runtime answers a Batch Transform job's requests as the job's settings assume.

The job (components/batch/aws.py) uploads a local CSV without its header, sends its
lines many per request (`MultiRecord`, `SplitType Line`) as `text/csv` with `Accept:
text/csv`, and joins each answer line to its input line (`JoinSource Input`). Here the
real upload (`Staging.upload`, into moto's S3) is cut into requests on line boundaries
as SageMaker cuts it, each sent to a real runtime server on 127.0.0.1 serving a model
trained on the fly; the joined lines must be every input row with the model's own
answer, in order.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import httpx
import numpy as np
import pytest
from moto import mock_aws

from inferstack.components.batch.aws_input import Staging, bundle_features
from tests.components.batch.conftest import FAKE_ENV, REGION
from tests.runtime.conftest import load_example
from tests.runtime.server import RuntimeServer

REQUEST_BYTES = 4096
"""Requests this small make many of them from 400 rows (the job's are MBs)."""


def _requests(body: str, limit: int) -> list[str]:
    """`body` cut on line boundaries into pieces of at most `limit` bytes."""
    out, piece = [], ""
    for line in body.splitlines(keepends=True):
        if piece and len(piece) + len(line) > limit:
            out.append(piece)
            piece = ""
        piece += line
    return [*out, piece] if piece else out


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch):
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def test_uploaded_rows_come_back_joined_to_the_models_answers(
    tmp_path: Path, aws_env: None
) -> None:
    bundle, predict_proba, x = load_example("logreg-20f").build(tmp_path / "bundle")
    features = bundle_features(str(bundle), tmp_path)
    assert len(features) == x.shape[1]
    rows = x[:400]
    source = tmp_path / "customers.csv"
    lines = [",".join(features), *(",".join(repr(float(v)) for v in row) for row in rows)]
    source.write_text("\n".join(lines) + "\n")

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="stack-bucket")
    key_arn = boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"]
    staging = Staging(s3, "stack-bucket", key_arn, "batch/ep/input", tuple(features))
    inputs = staging.upload(source, "job-1")
    uploaded = s3.get_object(Bucket="stack-bucket", Key=f"{inputs.prefix}/customers.csv")
    body = uploaded["Body"].read().decode()
    assert body.splitlines() == lines[1:]

    joined: list[str] = []
    with RuntimeServer(bundle, tmp_path) as server:
        pieces = _requests(body, REQUEST_BYTES)
        assert len(pieces) > 5
        for piece in pieces:
            answer = httpx.post(
                f"{server.url}/invocations",
                content=piece.encode(),
                headers={"Content-Type": "text/csv", "Accept": "text/csv"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            sent, got = piece.splitlines(), answer.text.splitlines()
            assert len(got) == len(sent)
            joined += [f"{a},{b}" for a, b in zip(sent, got, strict=True)]

    assert len(joined) == len(rows)
    table = np.array([[float(c) for c in line.split(",")] for line in joined])
    np.testing.assert_array_equal(table[:, : x.shape[1]], rows)
    np.testing.assert_allclose(table[:, x.shape[1] :], predict_proba(rows), rtol=1e-9)
