"""The serving objects as plain Kubernetes manifests (dicts): one source of truth.

The component declares exactly these objects through pulumi-kubernetes, and the tests
render the same dicts to YAML and validate them offline (kubernetes-validate, the CRD
schemas, checkov). Nothing here imports Pulumi; values that are only known at deploy
time (the image digest, the API key hash) come in as plain strings from the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferstack.runtime.contract import INFERENCE_ROUTES, PORT, Env, Routes

Manifest = dict[str, Any]

PRESTOP_S = 3
"""preStop sleep: the load balancer stops sending before the runtime stops accepting."""
DRAIN_S = 10
"""The runtime's SIGTERM drain bound (INFERSTACK_TIMEOUT_GRACEFUL_SHUTDOWN_S)."""
SPOT_POD_SHUTDOWN_S = 15
"""What a Spot node's graceful shutdown gives non-system pods of its 30 s notice; a longer
terminationGracePeriodSeconds has no effect there (cloud.google.com/kubernetes-engine/
docs/concepts/spot-vms, "Termination and graceful shutdown"). preStop plus the drain
must fit in it."""
GRACE_S = 30
"""terminationGracePeriodSeconds: above preStop + drain for rolling updates."""
SERVICE_PORT = 80
CAPACITY_LABEL = "inferstack.dev/capacity"
"""Node label of the deployment's pools: `spot` or `on-demand`."""
DEPLOYMENT_LABEL = "inferstack.dev/deployment"
"""Node label of the deployment's pools: its namespace (pods run only on their own
stack's pools, also in a cluster other stacks share)."""
SPOT_TAINT = {"key": "cloud.google.com/gke-spot", "value": "true", "effect": "NoSchedule"}
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
WORKLOAD_POD_LABEL = "inferstack-workload"
"""Pod label naming the Deployment; a plain key, so Cloud Monitoring's metadata.user_labels
selector can narrow the GPU metric to one HPA's pods."""
AWAIT_TIMEOUT_S = 1800
"""How long Pulumi waits for a GPU Deployment: a cold spot node, GKE's driver install and
a CUDA image pull can take longer than pulumi-kubernetes' default 10 minutes."""
RUNTIME_UID = 10001
"""The runtime image's user (runtime/Dockerfile: USER 10001:10001)."""

assert PRESTOP_S + DRAIN_S < SPOT_POD_SHUTDOWN_S < GRACE_S


def restricted_pod() -> dict[str, Any]:
    """A pod's security context under the restricted Pod Security Standard (non-root)."""
    return {
        "runAsNonRoot": True,
        "runAsUser": RUNTIME_UID,
        "runAsGroup": RUNTIME_UID,
        "fsGroup": RUNTIME_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def restricted_container() -> dict[str, Any]:
    """The runtime container's security context: read-only root, no capabilities."""
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "runAsUser": RUNTIME_UID,
        "runAsGroup": RUNTIME_UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


@dataclass(frozen=True)
class Workload:
    """One Deployment of the runtime: its track, version, image, capacity and scaling."""

    name: str
    """Deployment (and PDB) name."""
    track: str
    """`stable` or `canary`: the Service and route weight it belongs to."""
    version: str
    """The model version it serves (INFERSTACK_MODEL_VERSION)."""
    image: str
    """Image reference, by digest."""
    capacity: str
    """`flex` (prefers spot, falls back to on-demand) or `on-demand` (always on it)."""
    min_replicas: int
    max_replicas: int
    autoscaled: bool
    """An HPA owns the replica count (the Deployment then sets none)."""


@dataclass(frozen=True)
class Serving:
    """What every object of one deployment shares."""

    namespace: str
    app: str
    """app.kubernetes.io/name: the model name."""
    service_account: str
    gcp_service_account: str
    """Email of the GCP service account the KSA impersonates (Workload Identity)."""
    environment: str
    cpu: str
    memory: str
    gpus: int
    """nvidia.com/gpu per pod (0: CPU)."""
    api_key_secret: str | None
    """Secret holding INFERSTACK_API_KEY_HASHES (None: no key check)."""
    capture_uri: Any = None
    """INFERSTACK_CAPTURE_URI, the stack's capture bucket (None: no data capture)."""
    capture_rate: str = "0"
    """INFERSTACK_CAPTURE_SAMPLE_RATE: the share of requests captured."""


def _meta(name: str, serving: Serving, **labels: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": serving.namespace,
        "labels": {
            "app.kubernetes.io/name": serving.app,
            "app.kubernetes.io/part-of": "inferstack",
            **labels,
        },
    }


def selector(serving: Serving, track: str) -> dict[str, str]:
    """The labels a track's pods carry and its Service and PDB select."""
    return {"app.kubernetes.io/name": serving.app, "inferstack.dev/track": track}


def namespace(serving: Serving) -> Manifest:
    """The deployment's namespace; Pod Security Admission enforces the restricted profile
    there, which the runtime's pods meet (non-root, no escalation, no capabilities,
    seccomp RuntimeDefault)."""
    labels = {
        "app.kubernetes.io/part-of": "inferstack",
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": serving.namespace, "labels": labels},
    }


def service_account(serving: Serving) -> Manifest:
    meta = _meta(serving.service_account, serving)
    meta["annotations"] = {"iam.gke.io/gcp-service-account": serving.gcp_service_account}
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta,
        "automountServiceAccountToken": False,
    }


def api_key_secret(serving: Serving, key_hash: str) -> Manifest:
    assert serving.api_key_secret
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": _meta(serving.api_key_secret, serving),
        "type": "Opaque",
        "stringData": {Env.API_KEY_HASHES: key_hash},
    }


def _affinity(serving: Serving, capacity: str) -> dict[str, Any]:
    ours = {"key": CAPACITY_LABEL, "operator": "In", "values": ["spot", "on-demand"]}
    if capacity == "on-demand":
        ours = {"key": CAPACITY_LABEL, "operator": "In", "values": ["on-demand"]}
    stack = {"key": DEPLOYMENT_LABEL, "operator": "In", "values": [serving.namespace]}
    affinity: dict[str, Any] = {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [ours, stack]}]
        }
    }
    if capacity == "flex":
        spot = {"key": CAPACITY_LABEL, "operator": "In", "values": ["spot"]}
        affinity["preferredDuringSchedulingIgnoredDuringExecution"] = [
            {"weight": 100, "preference": {"matchExpressions": [spot]}}
        ]
    return {"nodeAffinity": affinity}


def _env(serving: Serving, workload: Workload) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": Env.PORT, "value": str(PORT)},
        {"name": Env.HOST, "value": "0.0.0.0"},  # noqa: S104 (the pod IP: probes, Service)
        {"name": Env.MODEL_NAME, "value": serving.app},
        {"name": Env.MODEL_VERSION, "value": workload.version},
        {"name": Env.ENVIRONMENT, "value": serving.environment},
        {"name": Env.VARIANT, "value": workload.track},
        {"name": Env.TIMEOUT_GRACEFUL_SHUTDOWN_S, "value": str(DRAIN_S)},
    ]
    if serving.api_key_secret:
        ref = {"name": serving.api_key_secret, "key": Env.API_KEY_HASHES}
        env.append({"name": Env.API_KEY_HASHES, "valueFrom": {"secretKeyRef": ref}})
    if serving.capture_uri is not None:
        env.append({"name": Env.CAPTURE_URI, "value": serving.capture_uri})
        env.append({"name": Env.CAPTURE_SAMPLE_RATE, "value": serving.capture_rate})
    return env


def _container(serving: Serving, workload: Workload) -> dict[str, Any]:
    limits = {"cpu": serving.cpu, "memory": serving.memory}
    if serving.gpus:
        limits["nvidia.com/gpu"] = str(serving.gpus)

    def probe(path: str, period: int, failures: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": "http"},
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": failures,
        }

    return {
        "name": "runtime",
        "image": workload.image,
        "imagePullPolicy": "Always",
        "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
        "env": _env(serving, workload),
        "resources": {"requests": dict(limits), "limits": limits},
        # The model loads before ready: up to 10 minutes before liveness applies.
        "startupProbe": probe(Routes.V2_READY, 5, 120),
        "readinessProbe": probe(Routes.V2_READY, 5, 2),
        "livenessProbe": probe(Routes.V2_LIVE, 10, 3),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_S}}},
        "securityContext": restricted_container(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 (read-only root)
    }


def workload_selector(serving: Serving, workload: Workload) -> dict[str, str]:
    """A Deployment's (immutable) selector and its PDB's: track and workload name, never
    the capacity, so turning spot on or off is a rolling update, not a replacement."""
    return {**selector(serving, workload.track), "inferstack.dev/workload": workload.name}


def deployment(serving: Serving, workload: Workload) -> Manifest:
    match = workload_selector(serving, workload)
    labels = {
        **match,
        "inferstack.dev/capacity": workload.capacity,
        WORKLOAD_POD_LABEL: workload.name,
    }
    tolerations = [
        {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}
        for t in ([GPU_TAINT] if serving.gpus else [])
        + ([SPOT_TAINT] if workload.capacity == "flex" else [])
    ]
    pod_spec: dict[str, Any] = {
        "serviceAccountName": serving.service_account,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": GRACE_S,
        "securityContext": restricted_pod(),
        "affinity": _affinity(serving, workload.capacity),
        "tolerations": tolerations,
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": match},
            }
        ],
        "containers": [_container(serving, workload)],
        "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}}],
    }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": match},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "revisionHistoryLimit": 5,
        "template": {"metadata": {"labels": labels}, "spec": pod_spec},
    }
    # With an HPA, a replica count here would reset its scaling on every update.
    if not workload.autoscaled:
        spec["replicas"] = workload.min_replicas
    meta = _meta(workload.name, serving, **labels)
    if serving.gpus:
        meta["annotations"] = {"pulumi.com/timeoutSeconds": str(AWAIT_TIMEOUT_S)}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def service(serving: Serving, name: str, track: str) -> Manifest:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(name, serving, **selector(serving, track)),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(serving, track),
            "ports": [
                {"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }


# HPA metrics by the spec's target_metric. RPS and GPU come from Cloud Monitoring through
# the Custom Metrics Stackdriver Adapter (a cluster add-on: docs/gke.md).
RPS_METRIC = "prometheus.googleapis.com|inferstack_requests_total|counter"
GPU_METRIC = "kubernetes.io|container|accelerator|duty_cycle"


def hpa_metric(
    target_metric: str, target_value: float, namespace: str, workload: str = ""
) -> dict[str, Any]:
    """The HPA metric for the spec's target_metric: CPU from the metrics server; requests
    per second per pod (a counter, which the adapter turns into a rate) and GPU duty cycle
    (a GKE system metric, averaged over the pods) from Cloud Monitoring."""
    if target_metric == "cpu_utilization":
        # The API refuses 0 (a target below 0.5 % would round to it).
        target = {"type": "Utilization", "averageUtilization": max(1, round(target_value))}
        return {"type": "Resource", "resource": {"name": "cpu", "target": target}}
    if target_metric == "gpu_utilization":
        # An External metric's AverageValue is the matching series' sum over this HPA's
        # pods: the selector keeps only those pods (not the -base or canary Deployment's).
        labels = {"resource.labels.namespace_name": namespace}
        if workload:
            labels[f"metadata.user_labels.{WORKLOAD_POD_LABEL}"] = workload
        selector = {"matchLabels": labels}
        return {
            "type": "External",
            "external": {
                "metric": {"name": GPU_METRIC, "selector": selector},
                "target": {"type": "AverageValue", "averageValue": str(round(target_value))},
            },
        }
    # invocations_per_instance: requests per second per pod from managed Prometheus.
    # Only requests that ran the model: probes and load-balancer health checks are load
    # the pods answer anyway, and would hold the HPA up at low traffic.
    routes = {"key": "metric.labels.route", "operator": "In", "values": list(INFERENCE_ROUTES)}
    return {
        "type": "Pods",
        "pods": {
            "metric": {"name": RPS_METRIC, "selector": {"matchExpressions": [routes]}},
            "target": {"type": "AverageValue", "averageValue": f"{target_value:g}"},
        },
    }


def hpa(
    serving: Serving, workload: Workload, metric: dict[str, Any], scale_in_s: int, scale_out_s: int
) -> Manifest:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _meta(workload.name, serving, **selector(serving, workload.track)),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": workload.name,
            },
            "minReplicas": max(1, workload.min_replicas),
            "maxReplicas": workload.max_replicas,
            "metrics": [metric],
            "behavior": {
                "scaleDown": {"stabilizationWindowSeconds": scale_in_s},
                "scaleUp": {"stabilizationWindowSeconds": scale_out_s},
            },
        },
    }


def pdb(serving: Serving, workload: Workload) -> Manifest:
    match = workload_selector(serving, workload)
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(workload.name, serving, **match),
        "spec": {"maxUnavailable": 1, "selector": {"matchLabels": match}},
    }


# Google's load balancer proxies and health checkers (external Application Load Balancer).
LB_SOURCE_RANGES = ("35.191.0.0/16", "130.211.0.0/22")


def network_policy(serving: Serving, name: str) -> Manifest:
    """Only the load balancer and managed Prometheus reach the runtime's port (enforced by
    GKE Dataplane V2, which a created cluster runs)."""
    sources: list[dict[str, Any]] = [{"ipBlock": {"cidr": c}} for c in LB_SOURCE_RANGES]
    gmp = {"kubernetes.io/metadata.name": "gmp-system"}
    sources.append({"namespaceSelector": {"matchLabels": gmp}})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(name, serving),
        "spec": {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": serving.app}},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": sources, "ports": [{"port": PORT, "protocol": "TCP"}]}],
        },
    }


def pod_monitoring(serving: Serving, name: str) -> Manifest:
    """Managed Prometheus scrapes every pod of the deployment on /metrics."""
    return {
        "apiVersion": "monitoring.googleapis.com/v1",
        "kind": "PodMonitoring",
        "metadata": _meta(name, serving),
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": serving.app}},
            "endpoints": [{"port": "http", "path": Routes.METRICS, "interval": "30s"}],
        },
    }
