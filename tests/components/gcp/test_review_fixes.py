"""The cloud review's GKE findings, each pinned by the behaviour that failed before."""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pulumi_gcp as gcp
import pytest

from inferstack.components.errors import SpecError
from inferstack.components.gcp import cluster as cluster_module
from inferstack.components.gcp import serving as serving_module
from inferstack.components.gcp.context import GcpContext
from inferstack.components.gcp.endpoint import GkeEndpoint, validate
from inferstack.components.gcp.nodepools import pool_name, replacing_config
from inferstack.components.gcp.observability import INFERENCE_ROUTE_REGEX, promql
from inferstack.components.gcp.workloads import (
    AWAIT_TIMEOUT_S,
    DEPLOYMENT_LABEL,
    WORKLOAD_POD_LABEL,
    hpa_metric,
)
from inferstack.components.plan.run import Plan, run_plan, run_under_mocks
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.contract import INFERENCE_ROUTES, Routes
from tests.components.gcp.conftest import context, gke_spec, objects_of
from tests.conftest import ROOT

BUNDLE = str(ROOT / "examples" / "logreg-20f" / "bundle")
MODEL = {"name": "churn", "version": "1.0.0", "framework": "sklearn", "artifact": BUNDLE}


@pytest.fixture(scope="module")
def plan() -> Plan:
    return run_plan("prod-gke")


def _deploy(spec: DeploymentSpec, stack: str = "prod") -> Plan:
    def program() -> None:
        endpoint = GkeEndpoint("churn", spec)
        pulumi.export("url", endpoint.url)

    return run_under_mocks(program, stack=stack, config={"gcp:project": "inferstack-prod"})


def _binding_dependencies(
    monkeypatch: pytest.MonkeyPatch, spec: DeploymentSpec
) -> list[pulumi.Resource]:
    seen: list[pulumi.Resource] = []
    real = gcp.serviceaccount.IAMMember

    def recording(name: str, *args: Any, opts: pulumi.ResourceOptions, **kwargs: Any) -> Any:
        if kwargs.get("role") == "roles/iam.workloadIdentityUser":
            seen.extend(opts.depends_on or [])  # type: ignore[arg-type]
        return real(name, *args, opts=opts, **kwargs)

    monkeypatch.setattr(serving_module.gcp.serviceaccount, "IAMMember", recording)
    _deploy(spec)
    return seen


def test_b1_the_workload_identity_binding_waits_for_the_created_cluster(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    targets = {"gcp": {"project": "inferstack-prod", "domain": "churn.example.com"}}
    spec = gke_spec(model=MODEL, targets=targets, rollout={"strategy": "all_at_once"})
    deps = _binding_dependencies(monkeypatch, spec)
    assert [type(d) for d in deps] == [gcp.container.Cluster]


def test_b1_an_attached_cluster_needs_no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    targets = {"gcp": {"project": "inferstack-prod", "domain": "churn.example.com",
                       "cluster": "shared-gpu"}}  # fmt: skip
    spec = gke_spec(model=MODEL, targets=targets, rollout={"strategy": "all_at_once"})
    assert _binding_dependencies(monkeypatch, spec) == []


def test_b2_the_cluster_has_a_dns_endpoint_open_to_external_traffic(plan: Plan) -> None:
    (created,) = plan.of_type("gcp:container/cluster:Cluster")
    dns = created.inputs["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]
    assert dns == {"allowExternalTraffic": True}
    assert created.inputs["masterAuthorizedNetworksConfig"]["cidrBlocks"] == [
        {"cidrBlock": "203.0.113.0/28", "displayName": "authorized-0"}
    ]


def test_b2_the_kubeconfig_uses_the_dns_endpoint_and_a_token_not_an_exec_plugin() -> None:
    text = cluster_module.kubeconfig("c", "gke-abc.us-central1.gke.goog", "tok", None)
    assert 'server: "https://gke-abc.us-central1.gke.goog"' in text
    assert "certificate-authority-data" not in text
    assert 'token: "tok"' in text
    assert "exec" not in text
    assert "gke-gcloud-auth-plugin" not in text
    with_ca = cluster_module.kubeconfig("c", "203.0.113.11", "tok", "Q0E=")
    assert 'certificate-authority-data: "Q0E="' in with_ca


class _Dns:
    def __init__(self, allow: bool) -> None:
        self.allow_external_traffic, self.endpoint = allow, "gke-x.us-central1.gke.goog"


class _Config:
    def __init__(self, allow: bool) -> None:
        self.dns_endpoint_configs = [_Dns(allow)]


class _Auth:
    cluster_ca_certificate = "Q0E="


class _Found:
    def __init__(self, allow: bool) -> None:
        self.control_plane_endpoints_configs = [_Config(allow)]
        self.endpoint, self.master_auths = "203.0.113.11", [_Auth()]


def test_b2_an_attached_cluster_is_reached_by_dns_when_it_allows_it() -> None:
    assert cluster_module._attached_endpoint(_Found(True)) == ("gke-x.us-central1.gke.goog", None)
    assert cluster_module._attached_endpoint(_Found(False)) == ("203.0.113.11", "Q0E=")


@pytest.mark.parametrize("metric", ["gpu_utilization", "invocations_per_instance"])
def test_m1_cloud_monitoring_metrics_need_the_adapter(metric: str) -> None:
    targets = {"gcp": {"project": "inferstack-prod", "domain": "churn.example.com",
                       "custom_metrics_adapter": False}}  # fmt: skip
    scaling = {"min_replicas": 1, "max_replicas": 4, "target_metric": metric}
    spec = gke_spec(targets=targets, scaling=scaling, rollout={"strategy": "all_at_once"})
    with pytest.raises(SpecError, match=r"targets\.gcp\.custom_metrics_adapter: .*Adapter"):
        validate(spec)
    cpu = {**scaling, "target_metric": "cpu_utilization"}
    ok = gke_spec(model=MODEL, targets=targets, scaling=cpu, rollout={"strategy": "all_at_once"})
    validate(ok)


def test_m3_alerts_count_only_inference_routes() -> None:
    queries = promql(context(gke_spec()))
    for key in ("p99_latency_s", "error_5xx_percent", "requests_per_s"):
        assert f'route=~"{INFERENCE_ROUTE_REGEX}"' in queries[key], key
    pattern = re.compile(f"^({INFERENCE_ROUTE_REGEX})$")
    assert all(pattern.match(route) for route in INFERENCE_ROUTES)
    assert not any(pattern.match(r) for r in (Routes.V2_READY, Routes.V2_LIVE, Routes.METRICS))


def test_m3_the_rps_hpa_counts_only_inference_routes() -> None:
    metric = hpa_metric("invocations_per_instance", 50, "ns")
    (routes,) = metric["pods"]["metric"]["selector"]["matchExpressions"]
    assert routes == {
        "key": "metric.labels.route",
        "operator": "In",
        "values": list(INFERENCE_ROUTES),
    }


def test_m4_two_stacks_of_one_model_get_their_own_pools_and_pods_stay_on_them() -> None:
    spec = gke_spec()
    prod = context(spec)
    staging = GcpContext(spec, "inferstack-prod", "us-central1", prod.zones, "churn-staging")
    for spot in (True, False):
        config = replacing_config(prod, spot)
        assert pool_name(prod, "spot", config) != pool_name(staging, "spot", config)
    deployments = [o for o in objects_of(spec) if o["kind"] == "Deployment"]
    assert deployments
    for deployment in deployments:
        affinity = deployment["spec"]["template"]["spec"]["affinity"]["nodeAffinity"]
        (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert {"key": DEPLOYMENT_LABEL, "operator": "In", "values": [prod.namespace]} in term[
            "matchExpressions"
        ]


def test_m4_the_pools_carry_the_deployment_label(plan: Plan) -> None:
    pools = plan.of_type("gcp:container/nodePool:NodePool")
    gpu_pools = [p for p in pools if p.inputs["name"] != "system"]
    assert gpu_pools
    namespaces = {p.inputs["nodeConfig"]["labels"][DEPLOYMENT_LABEL] for p in gpu_pools}
    (namespace,) = namespaces
    (ns,) = plan.of_type("kubernetes:core/v1:Namespace")
    assert ns.inputs["metadata"]["name"] == namespace


def test_m1_each_gpu_hpa_reads_only_its_own_pods() -> None:
    objects = objects_of(gke_spec())
    pods = {
        o["metadata"]["name"]: o["spec"]["template"]["metadata"]["labels"]
        for o in objects
        if o["kind"] == "Deployment"
    }
    hpas = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
    assert len(hpas) >= 2
    for hpa in hpas:
        (metric,) = hpa["spec"]["metrics"]
        labels = metric["external"]["metric"]["selector"]["matchLabels"]
        target = hpa["spec"]["scaleTargetRef"]["name"]
        key = f"metadata.user_labels.{WORKLOAD_POD_LABEL}"
        assert labels[key] == pods[target][WORKLOAD_POD_LABEL] == target
        assert [n for n, p in pods.items() if p[WORKLOAD_POD_LABEL] == labels[key]] == [target]


def test_m5_gpu_deployments_wait_longer_than_the_default_ten_minutes() -> None:
    for deployment in (o for o in objects_of(gke_spec()) if o["kind"] == "Deployment"):
        annotations = deployment["metadata"]["annotations"]
        assert annotations["pulumi.com/timeoutSeconds"] == str(AWAIT_TIMEOUT_S)
    assert AWAIT_TIMEOUT_S > 600


def test_m2_a_tiny_cpu_target_does_not_round_to_zero() -> None:
    metric = hpa_metric("cpu_utilization", 0.3, "ns")
    assert metric["resource"]["target"]["averageUtilization"] == 1


def test_m10_a_created_cluster_takes_the_channels_version(plan: Plan) -> None:
    (created,) = plan.of_type("gcp:container/cluster:Cluster")
    assert "minMasterVersion" not in created.inputs
    assert created.inputs["releaseChannel"] == {"channel": "REGULAR"}


def test_m5_the_stack_exports_the_dns_records_to_create(plan: Plan) -> None:
    records = plan.outputs["dns_records"]
    assert records[0] == {"name": "churn.ml.example.com.", "type": "A", "data": "203.0.113.20"}
    (cname,) = records[1:]
    assert cname["type"] == "CNAME"
    assert cname["name"] == "_acme-challenge.churn.ml.example.com."
    assert cname["data"].endswith(".authorize.certificatemanager.goog.")


def test_m9_the_https_gateway_takes_a_tls_1_2_policy(plan: Plan) -> None:
    (policy,) = plan.of_type("gcp:compute/sSLPolicy:SSLPolicy")
    assert policy.inputs["profile"] == "MODERN"
    assert policy.inputs["minTlsVersion"] == "TLS_1_2"
    (attached,) = plan.of_type("kubernetes:networking.gke.io/v1:GCPGatewayPolicy")
    (gateway,) = plan.of_type("kubernetes:gateway.networking.k8s.io/v1:Gateway")
    assert attached.inputs["spec"]["default"] == {"sslPolicy": policy.inputs["name"]}
    assert attached.inputs["spec"]["targetRef"]["name"] == gateway.inputs["metadata"]["name"]


def test_m11_waf_rules_run_at_sensitivity_1_on_parsed_json(plan: Plan) -> None:
    (armor,) = plan.of_type("gcp:compute/securityPolicy:SecurityPolicy")
    assert armor.inputs["advancedOptionsConfig"] == {"jsonParsing": "STANDARD"}
    waf = [r for r in armor.inputs["rules"] if "evaluatePreconfiguredWaf" in str(r)]
    assert waf
    for rule in waf:
        assert "{'sensitivity': 1}" in rule["match"]["expr"]["expression"]


def test_batch_jobs_turn_on_the_cloud_storage_fuse_driver_their_volumes_need(plan: Plan) -> None:
    from inferstack.components.gcp.cluster import attached_cluster_problems

    targets = {"gcp": {"project": "inferstack-prod", "domain": "churn.example.com",
                       "batch_jobs": True}}  # fmt: skip
    spec = gke_spec(model=MODEL, targets=targets, rollout={"strategy": "all_at_once"})
    (created,) = _deploy(spec).of_type("gcp:container/cluster:Cluster")
    assert created.inputs["addonsConfig"] == {"gcsFuseCsiDriverConfig": {"enabled": True}}
    (plain,) = plan.of_type("gcp:container/cluster:Cluster")
    assert "addonsConfig" not in plain.inputs  # clusters without batch Jobs are unchanged

    ready = ("c", "p.svc.id.goog", "p.svc.id.goog", "CHANNEL_STANDARD", True, "ADVANCED_DATAPATH")
    assert attached_cluster_problems(*ready, False, gcs_fuse=None) == []
    (problem,) = attached_cluster_problems(*ready, False, gcs_fuse=False)
    assert "GcsFuseCsiDriver=ENABLED" in problem
