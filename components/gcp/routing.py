"""The external entry as Gateway API and GKE policy manifests (dicts, no Pulumi).

A GKE Gateway (an external Application Load Balancer) with one HTTPS listener whose
certificate comes from a Certificate Manager map, an HTTPRoute that sends only the
inference routes to the stable and canary Services by weight, and per Service a
GCPBackendPolicy (Cloud Armor, timeout, draining, logging) and a HealthCheckPolicy
on the runtime's readiness route (the load balancer would otherwise probe `/`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inferstack.components.gcp.workloads import DRAIN_S, SERVICE_PORT, Manifest, Serving, _meta
from inferstack.runtime.contract import PORT, Routes

PUBLIC_PREFIXES = (Routes.INVOCATIONS, Routes.PREDICT, Routes.SCORE, "/v2/models")
"""What the route exposes: the scoring routes and V2 model metadata; never /metrics."""
REQUEST_TIMEOUT_S = 60


@dataclass(frozen=True)
class Backend:
    """One weighted Service behind the route."""

    service: str
    weight: int


def gateway(
    serving: Serving, name: str, gateway_class: str, address: str, certificate_map: str | None
) -> Manifest:
    meta = _meta(name, serving)
    if certificate_map:
        meta["annotations"] = {"networking.gke.io/certmap": certificate_map}
        listener = {"name": "https", "protocol": "HTTPS", "port": 443}
    else:
        listener = {"name": "http", "protocol": "HTTP", "port": 80}
    listener["allowedRoutes"] = {"namespaces": {"from": "Same"}}
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": meta,
        "spec": {
            "gatewayClassName": gateway_class,
            "listeners": [listener],
            "addresses": [{"type": "NamedAddress", "value": address}],
        },
    }


def gateway_policy(serving: Serving, gateway_name: str, ssl_policy: str) -> Manifest:
    """The Gateway's SSL policy (GKE's GCPGatewayPolicy): TLS 1.2 and up."""
    return {
        "apiVersion": "networking.gke.io/v1",
        "kind": "GCPGatewayPolicy",
        "metadata": _meta(gateway_name, serving),
        "spec": {
            "default": {"sslPolicy": ssl_policy},
            "targetRef": {
                "group": "gateway.networking.k8s.io",
                "kind": "Gateway",
                "name": gateway_name,
            },
        },
    }


def http_route(
    serving: Serving, name: str, gateway_name: str, hostname: str | None, backends: list[Backend]
) -> Manifest:
    spec: dict[str, Any] = {
        "parentRefs": [{"name": gateway_name}],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": p}} for p in PUBLIC_PREFIXES],
                "backendRefs": [
                    {"name": b.service, "port": SERVICE_PORT, "weight": b.weight} for b in backends
                ],
            }
        ],
    }
    if hostname:
        spec["hostnames"] = [hostname]
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": _meta(name, serving),
        "spec": spec,
    }


def _service_ref(service: str) -> dict[str, str]:
    return {"group": "", "kind": "Service", "name": service}


def backend_policy(serving: Serving, service: str, security_policy: str) -> Manifest:
    return {
        "apiVersion": "networking.gke.io/v1",
        "kind": "GCPBackendPolicy",
        "metadata": _meta(service, serving),
        "spec": {
            "default": {
                "securityPolicy": security_policy,
                "timeoutSec": REQUEST_TIMEOUT_S,
                "connectionDraining": {"drainingTimeoutSec": DRAIN_S},
                "logging": {"enabled": True, "sampleRate": 1_000_000},
            },
            "targetRef": _service_ref(service),
        },
    }


def health_check_policy(serving: Serving, service: str) -> Manifest:
    return {
        "apiVersion": "networking.gke.io/v1",
        "kind": "HealthCheckPolicy",
        "metadata": _meta(service, serving),
        "spec": {
            "default": {
                "checkIntervalSec": 5,
                "timeoutSec": 2,
                "healthyThreshold": 1,
                "unhealthyThreshold": 2,
                "config": {
                    "type": "HTTP",
                    "httpHealthCheck": {"port": PORT, "requestPath": Routes.V2_READY},
                },
            },
            "targetRef": _service_ref(service),
        },
    }
