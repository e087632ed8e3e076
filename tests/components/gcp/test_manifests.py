"""Every Kubernetes object the GKE target declares, rendered and validated offline:
built-in kinds against Kubernetes 1.33's schemas (kubernetes-validate, strict), the
Gateway API, GKE policy and managed Prometheus objects against their CRD schemas
(tests/components/gcp/schemas, with their sources), and the lot scanned by checkov."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from inferstack.components.gcp.workloads import DRAIN_S, GRACE_S, PRESTOP_S, SPOT_POD_SHUTDOWN_S
from tests.components.gcp.conftest import gke_spec, objects_of
from tests.tools import require_tool

K8S_VERSION = "1.33.0"
SCHEMAS = Path(__file__).parent / "schemas"
CRD_SCHEMAS = {
    ("gateway.networking.k8s.io/v1", "Gateway"): "gateway_v1.json",
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): "httproute_v1.json",
    ("networking.gke.io/v1", "GCPBackendPolicy"): "gcpbackendpolicy_v1.json",
    ("networking.gke.io/v1", "HealthCheckPolicy"): "healthcheckpolicy_v1.json",
    ("networking.gke.io/v1", "GCPGatewayPolicy"): "gcpgatewaypolicy_v1.json",
    ("monitoring.googleapis.com/v1", "PodMonitoring"): "podmonitoring_v1.json",
}
# checkov's Kubernetes checks we do not meet, each with the reason.
CHECKOV_SKIPS = {
    "CKV_K8S_35": "the API-key hashes come from a Secret as an env var: the runtime reads "
    "INFERSTACK_API_KEY_HASHES from the environment (a hash, not the key)",
}

SHAPES = {
    "prod canary on L4 spot": {},
    "A/B on T4 on demand": {
        "compute": {"accelerator": "nvidia-t4", "gpu_count": 2},
        "scaling": {
            "min_replicas": 1,
            "max_replicas": 3,
            "target_metric": "invocations_per_instance",
        },
        "rollout": {
            "strategy": "all_at_once",
            "primary_weight": 3,
            "variants": [{"name": "challenger", "model_version": "1.1.0", "weight": 1}],
        },
        "targets": {"gcp": {"project": "inferstack-prod", "domain": "churn.example.com"}},
    },
    "cpu, no spot, no canary, no tls": {
        "environment": "dev",
        "compute": {"accelerator": "none"},
        "scaling": {"min_replicas": 1, "max_replicas": 2, "target_metric": "cpu_utilization"},
        "gateway": {"auth": "none", "tls": False},
        "rollout": {"strategy": "all_at_once"},
        "targets": {"gcp": {"project": "inferstack-dev"}},
    },
}


def all_objects() -> list[dict[str, Any]]:
    return [o for changes in SHAPES.values() for o in objects_of(gke_spec(**changes))]


@pytest.mark.parametrize("shape", SHAPES)
def test_builtin_objects_match_kubernetes_schemas(shape: str) -> None:
    builtin = [
        o
        for o in objects_of(gke_spec(**SHAPES[shape]))
        if (o["apiVersion"], o["kind"]) not in CRD_SCHEMAS
    ]
    kinds = {o["kind"] for o in builtin}
    assert {
        "Namespace",
        "ServiceAccount",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
    } <= kinds
    for manifest in builtin:
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


@pytest.mark.parametrize("shape", SHAPES)
def test_custom_resources_match_their_crd_schemas(shape: str) -> None:
    custom = [
        o
        for o in objects_of(gke_spec(**SHAPES[shape]))
        if (o["apiVersion"], o["kind"]) in CRD_SCHEMAS
    ]
    assert {o["kind"] for o in custom} == {k for _, k in CRD_SCHEMAS}
    for manifest in custom:
        schema = json.loads(
            (SCHEMAS / CRD_SCHEMAS[manifest["apiVersion"], manifest["kind"]]).read_text()
        )
        jsonschema.validate(manifest, schema)


def test_the_crd_schemas_catch_a_broken_object() -> None:
    route = next(o for o in objects_of(gke_spec()) if o["kind"] == "HTTPRoute")
    route["spec"]["rules"][0]["backendRefs"][0]["weight"] = 1_000_001  # above the CRD's maximum
    schema = json.loads((SCHEMAS / "httproute_v1.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(route, schema)
    for name in CRD_SCHEMAS.values():
        assert "$comment" in json.loads((SCHEMAS / name).read_text())  # source and license


def test_kubernetes_validate_catches_a_broken_object() -> None:
    deployment = next(o for o in objects_of(gke_spec()) if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limit"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)


def test_checkov_finds_no_failures(tmp_path: Path) -> None:
    checkov = require_tool("checkov")
    rendered = tmp_path / "gke.yaml"
    rendered.write_text(yaml.safe_dump_all(all_objects(), sort_keys=False))
    result = subprocess.run(
        [checkov, "--framework", "kubernetes", "-f", str(rendered), "-o", "json", "--quiet",
         "--skip-check", ",".join(CHECKOV_SKIPS)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "\n".join(failed)
    assert sum(r["summary"]["passed"] for r in reports) > 300
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports)


def test_drain_fits_rollouts_and_spot_preemption() -> None:
    deployment = next(o for o in objects_of(gke_spec()) if o["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["INFERSTACK_TIMEOUT_GRACEFUL_SHUTDOWN_S"] == str(DRAIN_S)
    assert container["lifecycle"]["preStop"]["sleep"]["seconds"] == PRESTOP_S
    assert pod["terminationGracePeriodSeconds"] == GRACE_S > PRESTOP_S + DRAIN_S
    assert PRESTOP_S + DRAIN_S < SPOT_POD_SHUTDOWN_S
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_pods_meet_the_restricted_pod_security_profile_their_namespace_enforces() -> None:
    for changes in SHAPES.values():
        found = objects_of(gke_spec(**changes))
        (namespace,) = [o for o in found if o["kind"] == "Namespace"]
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        for deployment in (o for o in found if o["kind"] == "Deployment"):
            pod = deployment["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            assert all("emptyDir" in v for v in pod["volumes"])
            assert "hostNetwork" not in pod
            assert "hostPID" not in pod
            for container in pod["containers"]:
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False
                assert context["capabilities"] == {"drop": ["ALL"]}
                assert context["runAsUser"] != 0
                assert "hostPort" not in container["ports"][0]
