"""Data capture on GKE under the plan's mocks: a private Cloud Storage bucket with uniform
access, the runtime's service account may only create objects in it, and the pods get
the capture URI; the image installs the GCS sink."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from inferstack.components.gcp.capture import GCS_BUCKET, capture_bucket_name
from inferstack.components.gcp.endpoint import GkeEndpoint
from inferstack.components.plan.run import Plan, PlannedResource, run_under_mocks
from inferstack.components.spec.models import DeploymentSpec
from tests.components.gcp.conftest import context, gke_spec
from tests.conftest import ROOT

MODEL = {
    "name": "churn",
    "version": "1.0.0",
    "framework": "sklearn",
    "artifact": str(ROOT / "examples" / "logreg-20f" / "bundle"),
}
SETTINGS = {"project": "inferstack-prod", "domain": "churn.example.com"}


def _spec(percent: float) -> DeploymentSpec:
    return gke_spec(
        model=MODEL,
        targets={"gcp": SETTINGS},
        rollout={"strategy": "all_at_once"},
        observability={"data_capture_percent": percent},
    )


def _deploy(spec: DeploymentSpec) -> Plan:
    def program() -> None:
        pulumi.export("url", GkeEndpoint("churn", spec).url)

    return run_under_mocks(program, stack="prod", config={"gcp:project": "inferstack-prod"})


@pytest.fixture(scope="module")
def plan() -> Plan:
    return _deploy(_spec(2.5))


def _one(plan: Plan, token: str) -> PlannedResource:
    found = plan.of_type(token)
    assert len(found) == 1, [r.name for r in found]
    return found[0]


def _env(deployment: PlannedResource) -> dict[str, Any]:
    container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container["env"]}


def test_the_capture_bucket_is_private_uniform_and_regional(plan: Plan) -> None:
    bucket = _one(plan, "gcp:storage/bucket:Bucket").inputs
    assert bucket["uniformBucketLevelAccess"] is True
    assert bucket["publicAccessPrevention"] == "enforced"
    assert bucket["location"] == "us-central1"
    assert bucket["forceDestroy"] is False
    assert "encryption" not in bucket  # Google-managed: the GKE stack has no KMS key
    assert not GCS_BUCKET.problems(bucket["name"])


def test_the_runtime_may_only_create_objects_in_that_bucket(plan: Plan) -> None:
    bucket = _one(plan, "gcp:storage/bucket:Bucket").inputs["name"]
    grants = [
        r.inputs
        for r in plan.resources
        if r.type.startswith("gcp:storage/bucketIAM") and "capture" in r.name
    ]
    assert len(grants) == 1
    assert grants[0]["bucket"] == bucket
    assert grants[0]["role"] == "roles/storage.objectCreator"
    assert grants[0]["member"].startswith("serviceAccount:")
    assert not plan.of_type("gcp:projects/iAMMember:IAMMember") or all(
        "storage" not in r.inputs["role"] for r in plan.of_type("gcp:projects/iAMMember:IAMMember")
    )


def test_every_pod_gets_the_capture_uri_and_rate(plan: Plan) -> None:
    bucket = _one(plan, "gcp:storage/bucket:Bucket").inputs["name"]
    deployments = plan.of_type("kubernetes:apps/v1:Deployment")
    assert deployments
    for deployment in deployments:
        env = _env(deployment)
        assert env["INFERSTACK_CAPTURE_URI"] == f"gs://{bucket}/capture"
        assert env["INFERSTACK_CAPTURE_SAMPLE_RATE"] == "0.025"


def test_the_image_installs_the_gcs_sink(plan: Plan) -> None:
    images = plan.of_type("docker:index/image:Image")
    assert images
    assert all("capture-gcs" in r.inputs["build"]["args"]["EXTRAS"].split(",") for r in images)


def test_without_capture_no_bucket_no_env() -> None:
    plan = _deploy(_spec(0))
    assert not plan.of_type("gcp:storage/bucket:Bucket")
    for deployment in plan.of_type("kubernetes:apps/v1:Deployment"):
        assert "INFERSTACK_CAPTURE_URI" not in _env(deployment)


def test_the_bucket_name_fits_at_long_project_and_model_names() -> None:
    ctx = context(_spec(1))
    long = type(ctx)(ctx.spec, "p" * 30, ctx.region, ctx.zones, "m" * 60 + "-prod")
    assert not GCS_BUCKET.problems(capture_bucket_name(long))
