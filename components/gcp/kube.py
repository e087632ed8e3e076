"""Declare a manifest (a dict from `workloads`/`routing`) through pulumi-kubernetes.

Built-in kinds get their typed resource (the engine's token for them); custom
resources go through `apiextensions.CustomResource`. The dict is passed as is, so the
object the engine applies is the one the tests render and validate.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from inferstack.components.gcp.workloads import Manifest

_TYPED: dict[tuple[str, str], Any] = {
    ("v1", "Namespace"): k8s.core.v1.Namespace,
    ("v1", "ServiceAccount"): k8s.core.v1.ServiceAccount,
    ("v1", "Secret"): k8s.core.v1.Secret,
    ("v1", "Service"): k8s.core.v1.Service,
    ("apps/v1", "Deployment"): k8s.apps.v1.Deployment,
    ("autoscaling/v2", "HorizontalPodAutoscaler"): k8s.autoscaling.v2.HorizontalPodAutoscaler,
    ("policy/v1", "PodDisruptionBudget"): k8s.policy.v1.PodDisruptionBudget,
    ("networking.k8s.io/v1", "NetworkPolicy"): k8s.networking.v1.NetworkPolicy,
}
_FIELDS = {
    "metadata": "metadata",
    "spec": "spec",
    "stringData": "string_data",
    "type": "type",
    "automountServiceAccountToken": "automount_service_account_token",
}


def declare(name: str, manifest: Manifest, opts: pulumi.ResourceOptions) -> pulumi.Resource:
    """The pulumi-kubernetes resource for `manifest`, named `name` in the stack."""
    api_version, kind = manifest["apiVersion"], manifest["kind"]
    typed = _TYPED.get((api_version, kind))
    if typed is None:
        return k8s.apiextensions.CustomResource(
            name,
            api_version=api_version,
            kind=kind,
            metadata=manifest["metadata"],
            spec=manifest.get("spec"),
            opts=opts,
        )
    extra = set(manifest) - {"apiVersion", "kind", *_FIELDS}
    if extra:
        raise ValueError(f"{kind} {name}: no argument for {', '.join(sorted(extra))}")
    args = {_FIELDS[k]: v for k, v in manifest.items() if k in _FIELDS}
    resource: pulumi.Resource = typed(name, opts=opts, **args)
    return resource
