"""Data capture of the instance group under the plan's mocks: the runtime gets the
capture URI in the stack's KMS-encrypted artifact bucket, the hosts may write that
prefix only, and the image carries the S3 sink's extra."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest

from inferstack.components.plan.run import Plan
from tests.components.aws.test_group_plan import one, plan_group

CAPTURE = {"observability": {"data_capture_percent": 5}}


@pytest.fixture(scope="module")
def captured(bundle: Path) -> Plan:
    return plan_group(bundle, CAPTURE)


def _user_data(plan: Plan) -> str:
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate").inputs
    return base64.b64decode(template["userData"]).decode()


def _host_statements(plan: Plan) -> dict[str, Any]:
    policies = [
        json.loads(r.inputs["policy"])
        for r in plan.resources
        if r.type == "aws:iam/rolePolicy:RolePolicy" and "hosts" in r.name
    ]
    assert len(policies) == 1
    return {s["Sid"]: s for s in policies[0]["Statement"]}


def _env(plan: Plan) -> dict[str, str]:
    return dict(re.findall(r"-e (INFERSTACK_CAPTURE_\w+)=(\S+)", _user_data(plan)))


def test_the_runtime_gets_the_capture_uri_rate_and_key(captured: Plan) -> None:
    env = _env(captured)
    bucket = one(captured, "aws:s3/bucket:Bucket").name
    assert re.fullmatch(rf"s3://{bucket}-\w+/capture/[\w-]+", env["INFERSTACK_CAPTURE_URI"])
    assert env["INFERSTACK_CAPTURE_SAMPLE_RATE"] == "0.05"
    stack_key = _host_statements(captured)["DecryptWithStackKey"]["Resource"]
    assert env["INFERSTACK_CAPTURE_KMS_KEY"] == stack_key
    assert stack_key.startswith("arn:aws:kms:")


def test_hosts_write_only_the_capture_prefix_with_the_stack_key(captured: Plan) -> None:
    statements = _host_statements(captured)
    uri = _env(captured)["INFERSTACK_CAPTURE_URI"]
    write = statements["WriteCapture"]
    assert write["Action"] == "s3:PutObject"
    assert write["Resource"] == f"arn:aws:s3:::{uri.removeprefix('s3://')}/*"
    encrypt = statements["EncryptCaptureWithStackKey"]
    assert encrypt["Action"] == "kms:GenerateDataKey"
    assert encrypt["Resource"] == statements["DecryptWithStackKey"]["Resource"]
    writes = [s for s in statements.values() if "s3:PutObject" in str(s["Action"])]
    assert writes == [write]  # nothing else, nothing bucket- or account-wide


def test_the_capture_bucket_is_private_and_kms_encrypted(captured: Plan) -> None:
    block = one(captured, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(
        block[k]
        for k in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    sse = one(
        captured,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ).inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    assert sse["sseAlgorithm"] == "aws:kms"
    assert sse["kmsMasterKeyId"] == _host_statements(captured)["DecryptWithStackKey"]["Resource"]


def test_the_image_installs_the_s3_sink(captured: Plan, bundle: Path) -> None:
    images = [r for r in captured.resources if r.type == "docker:index/image:Image"]
    assert images
    assert all("capture-s3" in r.inputs["build"]["args"]["EXTRAS"].split(",") for r in images)


def test_the_container_reaches_imds_only_with_capture(captured: Plan, bundle: Path) -> None:
    def hops(plan: Plan) -> int:
        template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate").inputs
        assert template["metadataOptions"]["httpTokens"] == "required"
        limit: int = template["metadataOptions"]["httpPutResponseHopLimit"]
        return limit

    assert hops(captured) == 2  # the runtime's boto3 signs its writes with the hosts' role
    assert hops(plan_group(bundle)) == 1


def test_without_capture_nothing_is_granted_or_set(bundle: Path) -> None:
    plan = plan_group(bundle)
    assert "INFERSTACK_CAPTURE" not in _user_data(plan)
    assert "WriteCapture" not in _host_statements(plan)
    images = [r for r in plan.resources if r.type == "docker:index/image:Image"]
    assert all("capture-s3" not in r.inputs["build"]["args"]["EXTRAS"] for r in images)
