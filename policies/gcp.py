"""Policy rules for the GKE target's resources: the cluster, node pools, buckets and the
Kubernetes workloads it declares."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from inferstack.policies.base import Rule, Subject
from inferstack.policies.base import of as _of

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
BUCKET = "gcp:storage/bucket:Bucket"
BUCKET_MEMBERS = (
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:storage/bucketIAMBinding:BucketIAMBinding",
)
PUBLIC_MEMBERS = ("allUsers", "allAuthenticatedUsers")

Findings = Iterable[tuple[str, str | None]]


def _get(props: Mapping[str, Any], *path: str) -> Any:
    value: Any = props
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def gke_private_nodes(resources: list[Subject]) -> Findings:
    for cluster in _of(resources, CLUSTER):
        if _get(cluster.props, "privateClusterConfig", "enablePrivateNodes") is not True:
            yield (
                "GKE cluster nodes have external IPs (privateClusterConfig.enablePrivateNodes)",
                cluster.name,
            )
    for pool in _of(resources, NODE_POOL):
        # A pool may override the cluster's setting.
        if _get(pool.props, "networkConfig", "enablePrivateNodes") is False:
            yield (
                "node pool nodes have external IPs (networkConfig.enablePrivateNodes)",
                pool.name,
            )


def gke_control_plane_restricted(resources: list[Subject]) -> Findings:
    for cluster in _of(resources, CLUSTER):
        private = _get(cluster.props, "privateClusterConfig", "enablePrivateEndpoint") is True
        if not private and cluster.props.get("masterAuthorizedNetworksConfig") is None:
            yield (
                "GKE control plane IP endpoint open to every address "
                "(masterAuthorizedNetworksConfig)",
                cluster.name,
            )


def gke_workload_identity(resources: list[Subject]) -> Findings:
    for cluster in _of(resources, CLUSTER):
        if not _get(cluster.props, "workloadIdentityConfig", "workloadPool"):
            yield (
                "GKE cluster without Workload Identity (workloadIdentityConfig.workloadPool)",
                cluster.name,
            )
    for pool in _of(resources, NODE_POOL):
        if _get(pool.props, "nodeConfig", "workloadMetadataConfig", "mode") != "GKE_METADATA":
            yield (
                "node pool shows pods the node metadata server (workloadMetadataConfig.mode)",
                pool.name,
            )


def _containers(deployment: Subject) -> list[Mapping[str, Any]]:
    pod = _get(deployment.props, "spec", "template", "spec") or {}
    return [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]


def k8s_containers_locked_down(resources: list[Subject]) -> Findings:
    for deployment in _of(resources, DEPLOYMENT):
        pod = _get(deployment.props, "spec", "template", "spec") or {}
        for container in _containers(deployment):
            context = container.get("securityContext") or {}
            # A container's setting overrides the pod's.
            non_root = context.get("runAsNonRoot", _get(pod, "securityContext", "runAsNonRoot"))
            problems = [
                what
                for what, bad in (
                    ("may run as root (runAsNonRoot)", non_root is not True),
                    ("is privileged", context.get("privileged") is True),
                    (
                        "allows privilege escalation",
                        context.get("allowPrivilegeEscalation") is not False,
                    ),
                    (
                        "has a writable root filesystem",
                        context.get("readOnlyRootFilesystem") is not True,
                    ),
                    (
                        "keeps Linux capabilities (drop ALL)",
                        "ALL" not in (_get(context, "capabilities", "drop") or []),
                    ),
                )
                if bad
            ]
            for problem in problems:
                yield f"container {container.get('name')!r} {problem}", deployment.name


def k8s_resource_limits(resources: list[Subject]) -> Findings:
    for deployment in _of(resources, DEPLOYMENT):
        for container in _containers(deployment):
            limits = _get(container, "resources", "limits") or {}
            missing = [k for k in ("cpu", "memory") if k not in limits]
            if missing:
                yield (
                    f"container {container.get('name')!r} has no {' or '.join(missing)} limit",
                    deployment.name,
                )


def gcs_not_public(resources: list[Subject]) -> Findings:
    for member in _of(resources, BUCKET_MEMBERS):
        members = [member.props.get("member"), *(member.props.get("members") or [])]
        if any(m in PUBLIC_MEMBERS for m in members):
            yield "bucket granted to allUsers/allAuthenticatedUsers", member.name
    for bucket in _of(resources, BUCKET):
        if bucket.props.get("publicAccessPrevention") != "enforced":
            yield "bucket without publicAccessPrevention: enforced", bucket.name


RULES: tuple[Rule, ...] = (
    Rule("gke-private-nodes", "GKE nodes have no external IPs.", "mandatory", gke_private_nodes),
    Rule(
        "gke-workload-identity",
        "Pods reach GCP through Workload Identity, never the node's service account.",
        "mandatory",
        gke_workload_identity,
    ),
    Rule(
        "gke-control-plane-restricted",
        "A GKE control plane's IP endpoint admits only authorized networks (or is private).",
        "mandatory",
        gke_control_plane_restricted,
    ),
    Rule(
        "k8s-containers-locked-down",
        "Containers run as non-root, unprivileged, without escalation, read-only, no capabilities.",
        "mandatory",
        k8s_containers_locked_down,
    ),
    Rule(
        "k8s-resource-limits",
        "Containers have CPU and memory limits.",
        "mandatory",
        k8s_resource_limits,
    ),
    Rule("gcs-not-public", "No Cloud Storage bucket is public.", "mandatory", gcs_not_public),
)
