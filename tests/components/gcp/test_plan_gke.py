"""The prod-gke stack under Pulumi's mocks: what it declares and how the parts are wired.

The stack program runs as `inferstack plan prod-gke` runs it; the checks read the
recorded inputs of each resource (no engine ran)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest

from inferstack.components.errors import SpecError
from inferstack.components.gcp.endpoint import GkeEndpoint, validate
from inferstack.components.gcp.nodepools import pool_name, replacing_config
from inferstack.components.plan.run import Plan, PlannedResource, run_plan, run_under_mocks
from inferstack.components.spec.models import DeploymentSpec
from inferstack.policies import Subject, gcp
from inferstack.policies.rules import evaluate
from tests.components.gcp.conftest import context, gke_spec, objects_of
from tests.conftest import ROOT

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NODE_POOL = "gcp:container/nodePool:NodePool"


@pytest.fixture(scope="module")
def plan() -> Plan:
    return run_plan("prod-gke")


def of(plan: Plan, token: str) -> list[PlannedResource]:
    return plan.of_type(token)


def pod_labels(deployment: PlannedResource) -> dict[str, str]:
    labels: dict[str, str] = deployment.inputs["spec"]["template"]["metadata"]["labels"]
    return labels


def test_the_plan_lists_cluster_pools_workloads_gateway_and_monitoring(plan: Plan) -> None:
    types = {r.type for r in plan.resources}
    for token in (
        "gcp:container/cluster:Cluster",
        NODE_POOL,
        DEPLOYMENT,
        "kubernetes:core/v1:Service",
        "kubernetes:autoscaling/v2:HorizontalPodAutoscaler",
        "kubernetes:policy/v1:PodDisruptionBudget",
        "kubernetes:gateway.networking.k8s.io/v1:Gateway",
        "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute",
        "kubernetes:networking.gke.io/v1:GCPBackendPolicy",
        "kubernetes:monitoring.googleapis.com/v1:PodMonitoring",
        "gcp:compute/securityPolicy:SecurityPolicy",
        "gcp:monitoring/alertPolicy:AlertPolicy",
        "gcp:monitoring/dashboard:Dashboard",
        "gcp:artifactregistry/repository:Repository",
        "docker:index/image:Image",
    ):
        assert token in types, token
    alerts = {
        r.inputs["displayName"].rsplit(": ", 1)[1]
        for r in of(plan, "gcp:monitoring/alertPolicy:AlertPolicy")
    }
    assert alerts == {
        "p99 latency",
        "5xx rate",
        "GPU utilisation",
        "drift score",
        "drift p-value",
        "prediction drift",
        "prediction drift p-value",
    }
    assert plan.outputs["endpoint_url"] == "https://churn.ml.example.com"


def test_the_plan_passes_the_gcp_policy_pack(plan: Plan) -> None:
    subjects = [Subject(r.type, r.name, r.inputs, r.urn) for r in plan.resources]
    assert evaluate(subjects, gcp.RULES) == []


def test_gpu_pools_carry_the_spec_gpu_and_the_spot_pool_is_spot(plan: Plan) -> None:
    pools = {
        r.inputs["nodeConfig"]["labels"]["inferstack.dev/capacity"]: r
        for r in of(plan, NODE_POOL)
        if "guestAccelerators" in r.inputs["nodeConfig"]
    }
    assert set(pools) == {"spot", "on-demand"}
    for pool in pools.values():
        (gpu,) = pool.inputs["nodeConfig"]["guestAccelerators"]
        assert gpu["type"] == "nvidia-l4"
        assert gpu["gpuDriverInstallationConfig"]["gpuDriverVersion"] == "LATEST"
        assert pool.inputs["nodeConfig"]["machineType"] == "g2-standard-8"
    assert pools["spot"].inputs["nodeConfig"]["spot"] is True
    assert pools["on-demand"].inputs["nodeConfig"]["spot"] is False
    assert pools["spot"].inputs["autoscaling"]["totalMinNodeCount"] == 0
    assert pools["on-demand"].inputs["autoscaling"]["totalMinNodeCount"] == 1  # on_demand_base
    taints = pools["spot"].inputs["nodeConfig"]["taints"]
    assert {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NO_SCHEDULE"} in taints


def test_serving_pods_prefer_spot_and_the_base_stays_on_demand(plan: Plan) -> None:
    deployments = {r.inputs["metadata"]["name"]: r for r in of(plan, DEPLOYMENT)}
    flex = deployments["churn-logreg-stable"].inputs["spec"]["template"]["spec"]["affinity"][
        "nodeAffinity"
    ]
    (preferred,) = flex["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred["preference"]["matchExpressions"][0]["values"] == ["spot"]
    base = deployments["churn-logreg-stable-base"].inputs["spec"]
    assert base["replicas"] == 1
    required = base["template"]["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert required["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["on-demand"]


def test_each_hpa_targets_a_deployment_that_sets_no_replica_count(plan: Plan) -> None:
    deployments = {r.inputs["metadata"]["name"]: r for r in of(plan, DEPLOYMENT)}
    hpas = of(plan, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    assert len(hpas) == 2  # stable and canary
    for hpa in hpas:
        ref = hpa.inputs["spec"]["scaleTargetRef"]
        assert ref["kind"] == "Deployment"
        assert "replicas" not in deployments[ref["name"]].inputs["spec"]
        assert hpa.inputs["spec"]["metrics"][0]["external"]["metric"]["name"].endswith("duty_cycle")


def test_each_pdb_selects_its_deployments_pods(plan: Plan) -> None:
    deployments = of(plan, DEPLOYMENT)
    pdbs = of(plan, "kubernetes:policy/v1:PodDisruptionBudget")
    assert len(pdbs) == len(deployments)
    for pdb in pdbs:
        wanted = pdb.inputs["spec"]["selector"]["matchLabels"]
        selected = [d for d in deployments if wanted.items() <= pod_labels(d).items()]
        assert [d.inputs["metadata"]["name"] for d in selected] == [pdb.inputs["metadata"]["name"]]


def test_route_weights_equal_the_spec_and_reach_services_that_select_pods(plan: Plan) -> None:
    (route,) = of(plan, "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")
    refs = route.inputs["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["weight"]) for r in refs] == [
        ("churn-logreg-stable", 95),
        ("churn-logreg-canary", 5),
    ]
    services = {s.inputs["metadata"]["name"]: s for s in of(plan, "kubernetes:core/v1:Service")}
    versions = {}
    for ref in refs:
        selector = services[ref["name"]].inputs["spec"]["selector"]
        pods = [d for d in of(plan, DEPLOYMENT) if selector.items() <= pod_labels(d).items()]
        assert pods
        env = {
            e["name"]: e.get("value")
            for d in pods
            for e in d.inputs["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        versions[ref["name"]] = env["INFERSTACK_MODEL_VERSION"]
    assert versions == {"churn-logreg-stable": "0.9.0", "churn-logreg-canary": "1.0.0"}


def test_the_workload_identity_binding_exists(plan: Plan) -> None:
    (ksa,) = of(plan, "kubernetes:core/v1:ServiceAccount")
    namespace, name = ksa.inputs["metadata"]["namespace"], ksa.inputs["metadata"]["name"]
    gsa_email = ksa.inputs["metadata"]["annotations"]["iam.gke.io/gcp-service-account"]
    bindings = [
        b
        for b in of(plan, "gcp:serviceaccount/iAMMember:IAMMember")
        if b.inputs["role"] == "roles/iam.workloadIdentityUser"
    ]
    (binding,) = bindings
    assert (
        binding.inputs["member"]
        == f"serviceAccount:inferstack-prod.svc.id.goog[{namespace}/{name}]"
    )
    assert gsa_email in binding.inputs["serviceAccountId"]
    (cluster,) = of(plan, "gcp:container/cluster:Cluster")
    assert cluster.inputs["workloadIdentityConfig"]["workloadPool"] == "inferstack-prod.svc.id.goog"
    deployment_sa = {
        d.inputs["spec"]["template"]["spec"]["serviceAccountName"] for d in of(plan, DEPLOYMENT)
    }
    assert deployment_sa == {name}


def test_nodes_may_pull_from_the_registry(plan: Plan) -> None:
    readers = of(plan, "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    nodes = next(
        r for r in of(plan, "gcp:serviceaccount/account:Account") if r.name.endswith("-nodes")
    )
    assert all(r.inputs["role"] == "roles/artifactregistry.reader" for r in readers)
    assert {r.inputs["member"] for r in readers} == {
        f"serviceAccount:{nodes.inputs['accountId']}@inferstack-prod.iam.gserviceaccount.com"
    }


def test_a_pool_is_renamed_only_when_gke_would_replace_it() -> None:
    ctx = context(gke_spec())
    name = pool_name(ctx, "spot", replacing_config(ctx, spot=True))
    bigger = context(
        gke_spec(
            scaling={"min_replicas": 2, "max_replicas": 20, "target_metric": "gpu_utilization"}
        )
    )
    assert pool_name(bigger, "spot", replacing_config(bigger, spot=True)) == name
    other = context(
        gke_spec(
            targets={
                "gcp": {
                    "project": "inferstack-prod",
                    "domain": "churn.example.com",
                    "instance_type": "g2-standard-12",
                }
            },
            rollout={"strategy": "all_at_once"},
        )
    )
    assert pool_name(other, "spot", replacing_config(other, spot=True)) != name


def _deploy(spec: DeploymentSpec) -> Plan:
    def program() -> None:
        endpoint = GkeEndpoint("churn", spec)
        pulumi.export("url", endpoint.url)

    return run_under_mocks(program, stack="prod", config={"gcp:project": "inferstack-prod"})


def test_tls_without_a_domain_is_refused_before_anything_is_declared() -> None:
    spec = gke_spec(
        targets={"gcp": {"project": "inferstack-prod"}}, rollout={"strategy": "all_at_once"}
    )
    with pytest.raises(SpecError, match=r"deployment\.targets\.gcp\.domain: gateway\.tls needs"):
        validate(spec)


_BUNDLE_MODEL = {
    "name": "churn",
    "version": "1.0.0",
    "framework": "sklearn",
    "artifact": str(ROOT / "examples" / "logreg-20f" / "bundle"),
}


def test_an_attached_cluster_is_read_not_created() -> None:
    data: dict[str, Any] = {
        "project": "inferstack-prod",
        "domain": "churn.example.com",
        "cluster": "shared-gpu",
        "cluster_location": "us-central1",
    }
    model = {
        "name": "churn",
        "version": "1.0.0",
        "framework": "sklearn",
        "artifact": str(ROOT / "examples" / "logreg-20f" / "bundle"),
    }
    plan = _deploy(
        gke_spec(model=model, targets={"gcp": data}, rollout={"strategy": "all_at_once"})
    )
    assert not of(plan, "gcp:container/cluster:Cluster")
    pools = of(plan, NODE_POOL)
    assert pools
    assert {p.inputs["cluster"] for p in pools} == {"shared-gpu"}
    assert of(plan, DEPLOYMENT)


def test_turning_spot_off_keeps_the_deployment_and_its_selector() -> None:
    def stable(spot: bool) -> dict[str, Any]:
        spec = gke_spec(compute={"accelerator": "nvidia-l4", "spot": spot, "on_demand_base": 1})
        return next(
            o
            for o in objects_of(spec)
            if o["kind"] == "Deployment" and o["metadata"]["name"] == "churn-stable"
        )

    on, off = stable(True), stable(False)
    assert on["spec"]["selector"] == off["spec"]["selector"]  # immutable in Kubernetes
    labels = (
        on["spec"]["template"]["metadata"]["labels"],
        off["spec"]["template"]["metadata"]["labels"],
    )
    assert [ls["inferstack.dev/capacity"] for ls in labels] == ["flex", "on-demand"]


def test_ab_route_weights_follow_the_spec() -> None:
    model = {
        "name": "churn",
        "version": "1.0.0",
        "framework": "sklearn",
        "artifact": str(ROOT / "examples" / "logreg-20f" / "bundle"),
    }
    rollout = {
        "strategy": "all_at_once",
        "primary_weight": 3,
        "variants": [{"name": "challenger", "model_version": "1.0.0", "weight": 1, "replicas": 2}],
    }
    gcp_settings = {"project": "inferstack-prod", "domain": "churn.example.com"}
    plan = _deploy(gke_spec(model=model, rollout=rollout, targets={"gcp": gcp_settings}))
    (route,) = of(plan, "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")
    refs = route.inputs["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["weight"]) for r in refs] == [
        ("churn-stable", 75),
        ("churn-challenger", 25),
    ]
    hpas = {
        h.inputs["spec"]["scaleTargetRef"]["name"]: h
        for h in of(plan, "kubernetes:autoscaling/v2:HorizontalPodAutoscaler")
    }
    assert hpas["churn-challenger"].inputs["spec"]["minReplicas"] == 2
    images = {
        d.inputs["metadata"]["name"]: d.inputs["spec"]["template"]["spec"]["containers"][0]["image"]
        for d in of(plan, DEPLOYMENT)
    }
    assert images["churn-challenger"] == images["churn-stable"]  # one bundle, one image
    assert len(of(plan, "docker:index/image:Image")) == 1


_BARE_CLUSTER = """
from inferstack.components.gcp.endpoint import GkeEndpoint
from inferstack.components.gcp.plan_fakes import CALL_FAKES
from inferstack.components.plan.mocks import PlanMocks
from inferstack.components.plan.run import run_under_mocks
from tests.components.gcp.conftest import gke_spec

TOKEN = "gcp:container/getCluster:getCluster"
MODEL = {model!r}


def bare_cluster(args):
    return {{**CALL_FAKES[TOKEN](args), "workloadIdentityConfigs": [], "gatewayApiConfigs": []}}


data = {{"project": "inferstack-prod", "domain": "churn.example.com", "cluster": "legacy"}}
spec = gke_spec(model=MODEL, targets={{"gcp": data}}, rollout={{"strategy": "all_at_once"}})
run_under_mocks(
    lambda: GkeEndpoint("churn", spec),
    mocks=PlanMocks(call_fakes={{TOKEN: bare_cluster}}),
    stack="prod",
    config={{"gcp:project": "inferstack-prod"}},
)
"""


def test_an_attached_cluster_without_workload_identity_is_refused(tmp_path: Path) -> None:
    # A program that fails leaves Pulumi's process-wide runtime state behind: its own process.
    script = tmp_path / "bare_cluster.py"
    script.write_text(_BARE_CLUSTER.format(model=_BUNDLE_MODEL))
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert re.search(
        r"legacy needs Workload Identity with pool inferstack-prod\.svc\.id\.goog", result.stderr
    )
    assert "legacy needs the Gateway API" in result.stderr


def test_attached_cluster_problems_name_each_missing_feature() -> None:
    from inferstack.components.gcp.cluster import attached_cluster_problems

    ok = attached_cluster_problems(
        "c", "p.svc.id.goog", "p.svc.id.goog", "CHANNEL_STANDARD", True, "ADVANCED_DATAPATH", False
    )
    assert ok == []
    bad = attached_cluster_problems(
        "c",
        "other.svc.id.goog",
        "p.svc.id.goog",
        "CHANNEL_DISABLED",
        False,
        "LEGACY_DATAPATH",
        False,
    )
    assert len(bad) == 4
    assert all(p.startswith("targets.gcp.cluster: c needs ") for p in bad)


def test_replicas_stay_within_the_spec_bounds() -> None:
    for low, high, base in ((2, 10, 1), (1, 3, 3), (1, 4, 0), (3, 3, 1)):
        spec = gke_spec(
            compute={"accelerator": "nvidia-l4", "spot": True, "on_demand_base": base},
            scaling={"min_replicas": low, "max_replicas": high, "target_metric": "gpu_utilization"},
        )
        found = objects_of(spec)
        deployments = [
            o for o in found if o["kind"] == "Deployment" and "canary" not in o["metadata"]["name"]
        ]
        hpas = {
            o["spec"]["scaleTargetRef"]["name"]: o["spec"]
            for o in found
            if o["kind"] == "HorizontalPodAutoscaler"
        }
        most = sum(
            hpas[d["metadata"]["name"]]["maxReplicas"]
            if d["metadata"]["name"] in hpas
            else d["spec"]["replicas"]
            for d in deployments
        )
        least = sum(
            hpas[d["metadata"]["name"]]["minReplicas"]
            if d["metadata"]["name"] in hpas
            else d["spec"]["replicas"]
            for d in deployments
        )
        assert most == high, (low, high, base)
        assert least >= low
