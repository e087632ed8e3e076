"""Fixtures of the GKE suite: a prod-shaped spec and its rendered Kubernetes objects."""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.components.gcp.context import GcpContext
from inferstack.components.gcp.rules import node_zones
from inferstack.components.gcp.serving import EdgeNames, serving_objects
from inferstack.components.spec.models import DeploymentSpec

IMAGE = "us-central1-docker.pkg.dev/inferstack-prod/churn/churn@sha256:" + "a" * 64
STABLE_IMAGE = "us-central1-docker.pkg.dev/inferstack-prod/churn/churn@sha256:" + "b" * 64
GSA = "churn-run-1a2b@inferstack-prod.iam.gserviceaccount.com"


def gke_spec(**overrides: Any) -> DeploymentSpec:
    data: dict[str, Any] = {
        "target": "gcp",
        "environment": "prod",
        "region": "us-central1",
        "model": {"name": "churn", "version": "1.1.0", "framework": "sklearn", "artifact": "b"},
        "compute": {"accelerator": "nvidia-l4", "spot": True, "on_demand_base": 1},
        "scaling": {"min_replicas": 2, "max_replicas": 8, "target_metric": "gpu_utilization"},
        "gateway": {
            "auth": "api_key",
            "waf": True,
            "allowed_cidrs": [f"10.0.{i}.0/24" for i in range(12)],
        },
        "rollout": {"strategy": "canary", "canary_percent": 10, "auto_rollback": False},
        "targets": {
            "gcp": {
                "project": "inferstack-prod",
                "domain": "churn.example.com",
                "stable_version": "1.0.0",
                "stable_image": STABLE_IMAGE,
            }
        },
        **overrides,
    }
    # The HPA metrics read Cloud Monitoring: the fixtures' clusters run the adapter.
    data["targets"]["gcp"].setdefault("custom_metrics_adapter", True)
    return DeploymentSpec.model_validate(data)


def context(spec: DeploymentSpec) -> GcpContext:
    return GcpContext(spec, "inferstack-prod", "us-central1", node_zones(spec), "churn-prod")


def objects_of(spec: DeploymentSpec) -> list[dict[str, Any]]:
    edge = EdgeNames("churn-prod-gateway", "churn-prod-armor", "churn-prod-map", "churn-prod-tls")
    return serving_objects(context(spec), IMAGE, GSA, "0" * 64, edge)


@pytest.fixture
def objects() -> list[dict[str, Any]]:
    return objects_of(gke_spec())
