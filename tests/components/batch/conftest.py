"""Fixtures of the batch suite: an AWS stack deployed into moto by its real component, a
project whose stack config names it, and moto's SageMaker taught the transform job's
life (moto completes every job at once and has no StopTransformJob)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sagemaker import models as sagemaker_models
from moto.sagemaker.responses import SageMakerResponse

from inferstack.components.aws import AwsEndpoint
from inferstack.components.spec.models import DeploymentSpec
from inferstack.components.testing import MotoMocks, run_program

REGION = "us-east-1"
STACK = "test"
FEATURES = ["tenure", "spend"]
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


def spec_data(bundle: Path) -> dict[str, Any]:
    """A dev AWS deployment of `churn` with data capture on."""
    return {
        "target": "aws",
        "environment": "dev",
        "region": REGION,
        "model": {
            "name": "churn",
            "version": "1.2.0",
            "framework": "sklearn",
            "artifact": str(bundle),
        },
        "compute": {"accelerator": "none"},
        "observability": {"log_retention_days": 7, "data_capture_percent": 100},
        "tags": {"team": "ml"},
    }


def write_bundle(folder: Path) -> Path:
    """A bundle folder with a manifest naming FEATURES (the cloud loads the model, not us)."""
    folder.mkdir(parents=True, exist_ok=True)
    features = ", ".join(f"{{name: {f}}}" for f in FEATURES)
    (folder / "inferstack.yaml").write_text(
        "name: churn\nversion: 1.2.0\nframework: sklearn\nartifact: model.skops\n"
        f"input:\n  features: [{features}]\n"
    )
    (folder / "model.skops").write_bytes(b"not really a model")
    return folder


@dataclass
class JobScript:
    """How moto's transform jobs behave: stay InProgress for `running_polls` describes,
    then end as `outcome` (writing each input's `.out` object when Completed)."""

    running_polls: int = 0
    outcome: str = "Completed"
    failure_reason: str = ""
    interrupt_on_poll: int | None = None
    polls: dict[str, int] = field(default_factory=dict)
    stopped: list[str] = field(default_factory=list)


def _backend() -> Any:
    return sagemaker_models.sagemaker_backends[DEFAULT_ACCOUNT_ID][REGION]


def _write_outputs(job: Any) -> None:
    import boto3

    s3 = boto3.client("s3", region_name=REGION)
    source = job.transform_input["DataSource"]["S3DataSource"]["S3Uri"]
    bucket, key = source.removeprefix("s3://").split("/", 1)
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    prefix = manifest[0]["prefix"].removeprefix("s3://").split("/", 1)[1]
    out_bucket, out_key = job.transform_output["S3OutputPath"].removeprefix("s3://").split("/", 1)
    for rel in manifest[1:]:
        rows = s3.get_object(Bucket=bucket, Key=prefix + rel)["Body"].read().decode()
        joined = "".join(f"{line},0.5\n" for line in rows.splitlines())
        s3.put_object(Bucket=out_bucket, Key=f"{out_key}/{rel}.out", Body=joined.encode())


@pytest.fixture
def job_script(monkeypatch: pytest.MonkeyPatch) -> JobScript:
    """Script moto's transform jobs for one test (see JobScript)."""
    script = JobScript()
    backend_cls = type(_backend())
    create = backend_cls.create_transform_job
    describe = backend_cls.describe_transform_job

    def create_running(self: Any, **kwargs: Any) -> Any:
        job = create(self, **kwargs)
        job.transform_job_status = "InProgress"
        return job

    def describe_scripted(self: Any, transform_job_name: str) -> dict[str, Any]:
        job = self.transform_jobs.get(transform_job_name)
        if job is not None and job.transform_job_status == "InProgress":
            polls = script.polls.get(transform_job_name, 0) + 1
            script.polls[transform_job_name] = polls
            if script.interrupt_on_poll == polls:
                raise KeyboardInterrupt
            if polls > script.running_polls:
                job.transform_job_status = script.outcome
                job.failure_reason = script.failure_reason
                if script.outcome == "Completed":
                    _write_outputs(job)
        return describe(self, transform_job_name)  # type: ignore[no-any-return]

    def stop_transform_job(self: SageMakerResponse) -> Any:
        from moto.core.responses import EmptyResult

        name = self._get_param("TransformJobName")
        self.sagemaker_backend.transform_jobs[name].transform_job_status = "Stopped"
        script.stopped.append(name)
        return EmptyResult()

    monkeypatch.setattr(backend_cls, "create_transform_job", create_running)
    monkeypatch.setattr(backend_cls, "describe_transform_job", describe_scripted)
    monkeypatch.setattr(SageMakerResponse, "stop_transform_job", stop_transform_job, raising=False)
    return script


def _unconditional_permission(bucket: Any, action: str, resource: str) -> Any:
    """moto's bucket-policy check without the statements that carry a Condition.

    moto evaluates a bucket policy's Deny without the request's condition values, so it
    denies every PutObject to the stack's bucket (TLS-only, stack-key-only). Real S3
    admits these requests: boto3 uses TLS, and every upload names the stack key (the
    tests assert the key on each object). The unconditional statements still apply.
    """
    from moto.iam.access_control import IAMPolicy, PermissionResult

    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    policy = json.loads(bucket.policy.decode())
    policy["Statement"] = [s for s in policy["Statement"] if "Condition" not in s]
    if not policy["Statement"]:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)


@pytest.fixture(scope="module")
def moto_env() -> Iterator[None]:
    """Fake credentials and one moto for the whole module."""
    from moto.s3.models import FakeBucket

    saved = {k: os.environ.get(k) for k in FAKE_ENV}
    os.environ.update(FAKE_ENV)
    try:
        with mock_aws(), pytest.MonkeyPatch.context() as patch:
            patch.setattr(FakeBucket, "get_permission", _unconditional_permission)
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class Deployed:
    """The stack in moto: its project folder, spec and mocks (the created resources)."""

    root: Path
    spec: DeploymentSpec
    mocks: MotoMocks

    def ids(self, token: str) -> list[str]:
        """Ids of the created resources of type `token`."""
        return [rid for typ, _, rid in self.mocks.resources if typ == token]

    @property
    def bucket(self) -> str:
        (bucket,) = self.ids("aws:s3/bucket:Bucket")
        return bucket


def write_project(root: Path, project_root: Path, stack: str, deployment: dict[str, Any]) -> Path:
    """A project folder with Pulumi.yaml and stacks/Pulumi.<stack>.yaml holding `deployment`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "Pulumi.yaml").write_text((project_root / "Pulumi.yaml").read_text())
    (root / "stacks").mkdir(exist_ok=True)
    config = {"config": {"aws:region": REGION, "inferstack:deployment": deployment}}
    (root / "stacks" / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(config))
    return root


@pytest.fixture(scope="module")
def deployed(
    moto_env: None, tmp_path_factory: pytest.TempPathFactory, project_root: Path
) -> Deployed:
    """Stack `test` declared by `AwsEndpoint` under `MotoMocks` into the module's moto."""
    root = tmp_path_factory.mktemp("project")
    data = spec_data(write_bundle(root / "bundle"))
    spec = DeploymentSpec.model_validate(data)
    mocks = MotoMocks(REGION)

    def program() -> dict[str, Any]:
        endpoint = AwsEndpoint("churn", spec)
        return {"url": endpoint.url}

    run_program(program, mocks, stack=STACK)
    write_project(root, project_root, STACK, data)
    return Deployed(root, spec, mocks)


@pytest.fixture
def in_project(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> Callable[[], Path]:
    """Work in the deployed stack's project folder."""
    monkeypatch.chdir(deployed.root)
    return lambda: deployed.root
