"""Fixtures of the AWS suite: fake credentials, moto, a bundle, specs, and deploys.

Tests get `deploy(spec_or_changes)`, which declares `AwsEndpoint` under
`MotoMocks` (every AWS resource created in moto) and returns a `Deployed`.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from inferstack.components.aws import AwsEndpoint, AwsEndpointOptions
from inferstack.components.aws.endpoint_provider import DYNAMIC_TYPE, KIND
from inferstack.components.spec.models import DeploymentSpec
from inferstack.components.testing import MotoMocks, run_program

REGION = "us-east-1"
STACK = "test"
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


def prod_spec_data(bundle: Path) -> dict[str, Any]:
    """A prod spec touching every AWS feature: GPU, canary, keys, WAF, schedules, alarms."""
    return {
        "target": "aws",
        "environment": "prod",
        "region": REGION,
        "model": {
            "name": "churn",
            "version": "1.2.0",
            "framework": "sklearn",
            "artifact": str(bundle),
        },
        "compute": {"accelerator": "nvidia-a10g"},
        "scaling": {
            "min_replicas": 2,
            "max_replicas": 6,
            "target_value": 400,
            "scale_in_cooldown_s": 600,
            "scale_out_cooldown_s": 30,
            "schedules": [
                {
                    "name": "nights",
                    "cron": "0 20 * * 1-5",
                    "min_replicas": 2,
                    "max_replicas": 2,
                    "timezone": "Europe/Paris",
                }
            ],
        },
        "gateway": {
            "auth": "api_key",
            "rate_limit_rps": 50,
            "burst": 100,
            "quota_per_day": 100000,
            "waf": True,
            "allowed_cidrs": ["10.0.0.0/8"],
        },
        "observability": {
            "log_retention_days": 90,
            "notify_emails": ["oncall@example.com"],
            "data_capture_percent": 5,
        },
        "rollout": {"strategy": "canary", "canary_percent": 10, "bake_time_s": 300},
        "tags": {"team": "ml"},
    }


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in, nested mappings key by key."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class Deployed:
    """A deployment mirrored into moto: the component's outputs and the mocks."""

    spec: DeploymentSpec
    outputs: dict[str, Any]
    mocks: MotoMocks

    def client(self, service: str) -> Any:
        return self.mocks.client(service)

    def endpoints(self) -> list[dict[str, Any]]:
        """Inputs of each SageMaker endpoint (a dynamic resource: aws/endpoint_provider.py)."""
        return [i for i in self.mocks.inputs.get(DYNAMIC_TYPE, []) if i.get("kind") == KIND]

    def ids(self, token: str) -> list[str]:
        """Ids of the created resources of type `token`."""
        return [rid for typ, _, rid in self.mocks.resources if typ == token]


def write_bundle(folder: Path, version: str) -> Path:
    """A bundle folder: a valid manifest of `churn` at `version` and a model file (the
    AWS suite never loads the model; the runtime suite does that)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "inferstack.yaml").write_text(
        f"name: churn\nversion: {version}\nframework: sklearn\nartifact: model.skops\n"
        "input:\n  features: [{name: tenure}, {name: spend}]\n"
    )
    (folder / "model.skops").write_bytes(b"not really a model")
    return folder


@pytest.fixture(scope="session")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model's bundle folder, version 1.2.0."""
    return write_bundle(tmp_path_factory.mktemp("bundle"), "1.2.0")


@pytest.fixture(scope="module")
def moto_env() -> Iterator[None]:
    """Fake credentials and an active moto for the whole module."""
    saved = {k: os.environ.get(k) for k in FAKE_ENV}
    os.environ.update(FAKE_ENV)
    try:
        with mock_aws():
            yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def spec_for(bundle: Path) -> Callable[..., DeploymentSpec]:
    """The prod spec with `changes` merged in, validated."""

    def build(changes: dict[str, Any] | None = None) -> DeploymentSpec:
        return DeploymentSpec.model_validate(merge(prod_spec_data(bundle), changes or {}))

    return build


@pytest.fixture(scope="module")
def deploy(moto_env: None) -> Callable[..., Deployed]:
    """Declare `AwsEndpoint(name, spec)` under `MotoMocks` into the module's moto."""

    def run(
        spec: DeploymentSpec,
        options: AwsEndpointOptions | None = None,
        name: str = "churn",
        stack: str = STACK,
    ) -> Deployed:
        mocks = MotoMocks(REGION)

        def program() -> dict[str, Any]:
            endpoint = AwsEndpoint(name, spec, options=options)
            return {
                "url": endpoint.url,
                "api_key": endpoint.api_key,
                "dashboard_url": endpoint.dashboard_url,
                "endpoint_name": endpoint.endpoint_name,
            }

        return Deployed(spec, run_program(program, mocks, stack=stack), mocks)

    return run
