"""Fixtures of the lifecycle tests: a project with a prod-aws stack and two bundles, and
that stack's SageMaker endpoint, variants and rollback alarms in moto."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import yaml
from moto import mock_aws

from inferstack.components.aws.alarms import rollback_alarm_names
from inferstack.components.aws.common import names_for
from inferstack.components.spec.config import load_spec
from inferstack.runtime.contract import Env, Routes
from inferstack.runtime.metrics import Metrics

REGION = "us-east-1"
STACK = "prod-aws"
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
FEATURES = [f"f{i}" for i in range(20)]

CANDIDATE = """\
      # the new model, deployed beside the old one with no traffic yet
      variants:
        - name: candidate
          model_version: 1.1.0
          artifact: bundles/v1.1.0  # built by train.py
          weight: 0
"""


def write_bundle(folder: Path, version: str, features: list[str] | None = None) -> Path:
    """A bundle folder holding only its manifest (enough for schema checks)."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "bundle_format": 1,
        "name": "churn-logreg",
        "version": version,
        "framework": "sklearn",
        "artifact": "model.skops",
        "input": {"features": features or FEATURES, "dtype": "float64"},
    }
    (folder / "inferstack.yaml").write_text(yaml.safe_dump(manifest, sort_keys=False))
    return folder


@dataclass
class Project:
    """A project folder with the prod-aws stack config and bundles 1.0.0 and 1.1.0."""

    root: Path
    config: Path

    def deployment(self) -> dict[str, Any]:
        """The stack config's deployment mapping as it is on disk now."""
        return yaml.safe_load(self.config.read_text())["config"]["inferstack:deployment"]


@pytest.fixture
def project(tmp_path: Path, project_root: Path) -> Project:
    """prod-aws's config with a `candidate` variant (1.1.0, weight 0) under rollout."""
    shutil.copy(project_root / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    text = (project_root / "stacks" / f"Pulumi.{STACK}.yaml").read_text()
    text = text.replace("artifact: examples/logreg-20f/bundle", "artifact: bundles/v1.0.0")
    # A/B variants go with blue/green (the spec refuses canary with variants)
    text = text.replace("strategy: canary", "strategy: blue_green")
    text = text.replace("      auto_rollback: true\n", "      auto_rollback: true\n" + CANDIDATE)
    assert "strategy: blue_green" in text, "prod-aws's rollout changed: update this fixture"
    assert "name: candidate" in text, "prod-aws's rollout changed: update this fixture"
    config = tmp_path / "stacks" / f"Pulumi.{STACK}.yaml"
    config.write_text(text)
    write_bundle(tmp_path / "bundles" / "v1.0.0", "1.0.0")
    write_bundle(tmp_path / "bundles" / "v1.1.0", "1.1.0")
    return Project(tmp_path, config)


@dataclass
class Endpoint:
    """The stack's endpoint in moto, and its alarms."""

    name: str
    alarms: list[str]
    sagemaker: Any
    cloudwatch: Any

    def weights(self) -> dict[str, float]:
        """Variant -> CurrentWeight."""
        described = self.sagemaker.describe_endpoint(EndpointName=self.name)
        return {
            v["VariantName"]: v.get("CurrentWeight", 0.0)  # moto leaves out a weight of 0
            for v in described["ProductionVariants"]
        }

    def alarm(self, name: str, state: str = "ALARM") -> None:
        """Set alarm `name`'s state, as CloudWatch would when it breaches."""
        self.cloudwatch.set_alarm_state(AlarmName=name, StateValue=state, StateReason="test")


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fake credentials and moto for every AWS call in the test."""
    for key, value in FAKE_ENV.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"


def create_endpoint(deployment: dict[str, Any]) -> Endpoint:
    """The endpoint `pulumi up` made of the stack: primary 1.0.0 with all the traffic,
    candidate 1.1.0 with none, and the rollback alarms (OK); in moto, which must be on."""
    spec = load_spec(deployment)
    names = names_for(spec.model.name, spec, STACK)
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    role = "arn:aws:iam::123456789012:role/inferstack-test"
    variants = []
    for variant, version, weight in (("primary", "1.0.0", 1.0), ("candidate", "1.1.0", 0.0)):
        model = f"{names.endpoint}-{variant}"
        sagemaker.create_model(
            ModelName=model,
            ExecutionRoleArn=role,
            PrimaryContainer={
                "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1",
                "ModelDataUrl": f"s3://bucket/{version}/model.tar.gz",
                "Environment": {Env.MODEL_VERSION: version, Env.VARIANT: variant},
            },
        )
        variants.append(
            {
                "VariantName": variant,
                "ModelName": model,
                "InitialInstanceCount": 2,
                "InstanceType": "ml.g4dn.xlarge",
                "InitialVariantWeight": weight,
            }
        )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{names.endpoint}-config", ProductionVariants=variants
    )
    sagemaker.create_endpoint(
        EndpointName=names.endpoint, EndpointConfigName=f"{names.endpoint}-config"
    )
    alarms = rollback_alarm_names(spec, names)
    for alarm in alarms:
        cloudwatch.put_metric_alarm(
            AlarmName=alarm,
            Namespace="AWS/SageMaker",
            MetricName="ModelLatency",
            Statistic="Average",
            Period=60,
            EvaluationPeriods=1,
            Threshold=1.0,
            ComparisonOperator="GreaterThanThreshold",
        )
    return Endpoint(names.endpoint, alarms, sagemaker, cloudwatch)


@pytest.fixture
def endpoint(project: Project, aws_env: None) -> Endpoint:
    """The project stack's endpoint in moto (see `create_endpoint`)."""
    return create_endpoint(project.deployment())


@pytest.fixture
def metrics_server() -> Iterator[str]:
    """Two runtimes' /metrics (versions 1.0.0 and 1.1.0) on 127.0.0.1, as the runtime's
    own metrics code writes them; 1.1.0 is slower and fails more often."""
    rng = np.random.default_rng(5)
    pages = {}
    for version, n, fail, scale in (("1.0.0", 4000, 0.01, 0.010), ("1.1.0", 1000, 0.03, 0.012)):
        metrics = Metrics("churn-logreg", version, "sklearn", "prod")
        for _ in range(n):
            code = 500 if rng.random() < fail else 200
            metrics.observe_request(Routes.INVOCATIONS, code, float(rng.gamma(4, scale / 4)))
        for _ in range(50):  # health checks are not requests to compare
            metrics.observe_request(Routes.PING, 200, 0.0001)
        pages[f"/{version}/metrics"] = metrics.exposition()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()
