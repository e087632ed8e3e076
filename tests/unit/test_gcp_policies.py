"""The GKE policy rules: each catches its insecure fixture and passes the clean one."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from inferstack.policies import gcp
from inferstack.policies.base import Subject
from inferstack.policies.rules import evaluate

CLEAN_CONTAINER = {
    "name": "runtime",
    "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
    "securityContext": {
        "runAsNonRoot": True,
        "privileged": False,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    },
}
CLEAN = {
    gcp.CLUSTER: {
        "privateClusterConfig": {"enablePrivateNodes": True},
        "workloadIdentityConfig": {"workloadPool": "p.svc.id.goog"},
        "masterAuthorizedNetworksConfig": {"cidrBlocks": []},
    },
    gcp.NODE_POOL: {"nodeConfig": {"workloadMetadataConfig": {"mode": "GKE_METADATA"}}},
    gcp.DEPLOYMENT: {"spec": {"template": {"spec": {"containers": [CLEAN_CONTAINER]}}}},
    gcp.BUCKET: {"publicAccessPrevention": "enforced"},
    gcp.BUCKET_MEMBERS[0]: {"member": "serviceAccount:run@p.iam.gserviceaccount.com"},
}


def subjects(changes: dict[str, Any] | None = None) -> list[Subject]:
    props = copy.deepcopy(CLEAN)
    for token, edit in (changes or {}).items():
        edit(props[token])
    return [Subject(token, f"r{i}", p) for i, (token, p) in enumerate(props.items())]


def _container(p: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = p["spec"]["template"]["spec"]["containers"][0]
    return container


INSECURE = {
    "gke-private-nodes": {
        gcp.CLUSTER: lambda p: p["privateClusterConfig"].update(enablePrivateNodes=False)
    },
    "gke-control-plane-restricted": {
        gcp.CLUSTER: lambda p: p.pop("masterAuthorizedNetworksConfig")
    },
    "gke-workload-identity": {
        gcp.NODE_POOL: lambda p: p["nodeConfig"].pop("workloadMetadataConfig")
    },
    "k8s-containers-locked-down": {
        gcp.DEPLOYMENT: lambda p: _container(p)["securityContext"].update(privileged=True)
    },
    "k8s-resource-limits": {gcp.DEPLOYMENT: lambda p: _container(p)["resources"].pop("limits")},
    "gcs-not-public": {gcp.BUCKET_MEMBERS[0]: lambda p: p.update(member="allUsers")},
}


def test_every_rule_has_an_insecure_fixture() -> None:
    assert set(INSECURE) == {r.name for r in gcp.RULES}


def test_the_clean_fixture_passes() -> None:
    assert evaluate(subjects(), gcp.RULES) == []


@pytest.mark.parametrize("rule", INSECURE)
def test_each_rule_catches_its_insecure_fixture(rule: str) -> None:
    violations = evaluate(subjects(INSECURE[rule]), gcp.RULES)
    assert [v.policy for v in violations] == [rule]
    assert violations[0].enforcement == "mandatory"


def test_a_pool_with_public_nodes_is_caught() -> None:
    edit = {gcp.NODE_POOL: lambda p: p.update(networkConfig={"enablePrivateNodes": False})}
    assert [v.policy for v in evaluate(subjects(edit), gcp.RULES)] == ["gke-private-nodes"]


def test_a_container_overriding_the_pods_non_root_is_caught() -> None:
    def edit(p: dict[str, Any]) -> None:
        p["spec"]["template"]["spec"]["securityContext"] = {"runAsNonRoot": True}
        _container(p)["securityContext"]["runAsNonRoot"] = False

    violations = evaluate(subjects({gcp.DEPLOYMENT: edit}), gcp.RULES)
    assert [v.policy for v in violations] == ["k8s-containers-locked-down"]


def test_init_containers_are_checked_too() -> None:
    def edit(p: dict[str, Any]) -> None:
        init = copy.deepcopy(CLEAN_CONTAINER)
        init["securityContext"]["privileged"] = True
        p["spec"]["template"]["spec"]["initContainers"] = [init]

    violations = evaluate(subjects({gcp.DEPLOYMENT: edit}), gcp.RULES)
    assert [v.policy for v in violations] == ["k8s-containers-locked-down"]
