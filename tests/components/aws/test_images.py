"""What each variant runs: bundles are built for SageMaker's platform and pushed here; an
s3:// archive runs the image the spec names; the lifecycle never expires a used image."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from inferstack.components import SpecError
from inferstack.components.aws import AwsEndpoint
from inferstack.components.testing import MotoMocks, run_program

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/runtime:1.2.0-gpu"
SMALL = {"scaling": {"schedules": []}, "gateway": {"waf": False}}


class RecordingMocks(MotoMocks):
    """MotoMocks that also keep the inputs of the docker images (which moto does not hold)."""

    def __init__(self) -> None:
        super().__init__("us-east-1")
        self.images: list[dict[str, Any]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        if args.typ == "docker:index/image:Image":
            self.images.append(args.inputs)
        return super().new_resource(args)


def test_bundles_are_built_for_linux_amd64(moto_env, spec_for) -> None:
    # SageMaker runs x86-64 hosts: an arm64 laptop must still push an amd64 image.
    mocks = RecordingMocks()
    run_program(lambda: {"url": AwsEndpoint("built", spec_for(SMALL)).url}, mocks)
    (image,) = mocks.images
    assert image["build"]["platform"] == "linux/amd64"


def test_the_lifecycle_expires_untagged_images_only(deploy, spec_for) -> None:
    deployed = deploy(spec_for(SMALL), name="kept")
    ecr = deployed.client("ecr")
    policy = json.loads(
        ecr.get_lifecycle_policy(repositoryName="inferstack/kept-test")["lifecyclePolicyText"]
    )
    assert [r["selection"]["tagStatus"] for r in policy["rules"]] == ["untagged"]


def test_an_s3_archive_runs_the_image_the_spec_names(deploy, spec_for) -> None:
    archive = "s3://models/churn/1.2.0/model.tar.gz"
    spec = spec_for({**SMALL, "model": {"artifact": archive}})
    with pytest.raises(SpecError) as err:
        deploy(spec, name="unbuilt")
    assert "deployment.targets.aws.image_uri" in str(err.value)
    spec = spec_for(
        {**SMALL, "model": {"artifact": archive}, "targets": {"aws": {"image_uri": IMAGE}}}
    )
    deployed = deploy(spec, name="pinned")
    sagemaker = deployed.client("sagemaker")
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName="pinned-test")[
            "EndpointConfigName"
        ]
    )
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"] == archive
