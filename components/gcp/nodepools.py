"""`GpuNodePools`: a spot pool and an on-demand fallback pool for the spec's GPU kind.

Most of a node pool's `node_config` (machine type, accelerators, spot, disk, image,
service account, scopes) cannot change in place: GKE replaces the pool. Each pool's
name therefore ends with a hash of exactly that config, so a change is a *new* pool that
Pulumi creates before it deletes the old one (its default for replacements), and GKE
drains the old nodes through the pods' PodDisruptionBudgets instead of the serving
capacity going away first. Settings GKE updates in place (autoscaling bounds, labels,
taints, zones) stay out of the hash.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp

from inferstack.components.gcp import rules
from inferstack.components.gcp.context import GcpContext
from inferstack.components.gcp.gpus import GPU_KINDS, gpus_per_node
from inferstack.components.gcp.naming import NODE_POOL, digest, fit
from inferstack.components.gcp.rules import gcp_options
from inferstack.components.gcp.workloads import CAPACITY_LABEL, DEPLOYMENT_LABEL, SPOT_TAINT

DISK_GB = 100
IMAGE_TYPE = "COS_CONTAINERD"
SCOPE = "https://www.googleapis.com/auth/cloud-platform"


def replicas_per_node(ctx: GcpContext) -> int:
    """How many serving pods one node holds (GPU nodes: its GPUs over a pod's)."""
    return rules.replicas_per_node(ctx.spec)


def replacing_config(ctx: GcpContext, spot: bool) -> dict[str, Any]:
    """The node_config fields GKE cannot change in place (they name the pool)."""
    spec = ctx.spec
    config: dict[str, Any] = {
        "machine_type": spec.instance_type(),
        "spot": spot,
        "disk_size_gb": DISK_GB,
        "image_type": IMAGE_TYPE,
        "oauth_scopes": [SCOPE],
    }
    if spec.compute.accelerator != "none":
        machine = spec.instance_type()
        config["guest_accelerators"] = [
            {
                "type": GPU_KINDS[spec.compute.accelerator].accelerator_type,
                "count": gpus_per_node(spec.compute.accelerator, machine, spec.compute.gpu_count),
                "gpu_driver_installation_config": {
                    "gpu_driver_version": gcp_options(spec).gpu_driver_version
                },
            }
        ]
    return config


def pool_name(ctx: GcpContext, role: str, config: dict[str, Any]) -> str:
    """`<model>-<role>-<stack hash>-<hash of the replacing config>`, fitted to GKE's 40
    characters: two stacks of one model in a shared cluster get pools of their own."""
    replacing = digest(json.dumps(config, sort_keys=True))
    return fit(NODE_POOL, ctx.spec.model.name, role, digest(ctx.base, 4), replacing)


@dataclass(frozen=True)
class GpuNodePoolsArgs:
    """The cluster the pools join and who their nodes run as."""

    ctx: GcpContext
    cluster: pulumi.Input[str]
    location: pulumi.Input[str]
    node_service_account: pulumi.Input[str]


class GpuNodePools(pulumi.ComponentResource):
    """Spot and on-demand pools of the spec's machine, autoscaled between its bounds."""

    pool_names: dict[str, str]
    """capacity (spot, on-demand) -> the pool's name."""

    def __init__(
        self, name: str, args: GpuNodePoolsArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:gcp:GpuNodePools", name, None, opts)
        ctx, spec = args.ctx, args.ctx.spec
        per_node = replicas_per_node(ctx)
        nodes = lambda replicas: math.ceil(replicas / per_node)  # noqa: E731
        max_nodes = nodes(spec.scaling.max_replicas)
        if spec.compute.spot:
            # The on-demand base is always kept; spot takes the rest and may go to zero.
            bounds = {
                "spot": (0, max_nodes),
                "on-demand": (nodes(spec.compute.on_demand_base), max_nodes),
            }
        else:
            bounds = {"on-demand": (nodes(spec.scaling.min_replicas), max_nodes)}
        self.pool_names = {}
        for capacity, (low, high) in bounds.items():
            spot = capacity == "spot"
            config = replacing_config(ctx, spot)
            pool = pool_name(ctx, "spot" if spot else "od", config)
            self.pool_names[capacity] = pool
            gcp.container.NodePool(
                f"{name}-{capacity}",
                name=pool,
                project=ctx.project,
                cluster=args.cluster,
                location=args.location,
                node_locations=list(ctx.zones),
                autoscaling={
                    "total_min_node_count": low,
                    "total_max_node_count": high,
                    # Spot: any zone with capacity; on-demand: spread for the base.
                    "location_policy": "ANY" if spot else "BALANCED",
                },
                management={"auto_repair": True, "auto_upgrade": True},
                upgrade_settings={"max_surge": 1, "max_unavailable": 0},
                node_config=cast(
                    Any,
                    {
                        **config,
                        "service_account": args.node_service_account,
                        "labels": {
                            **ctx.labels,
                            CAPACITY_LABEL: capacity,
                            DEPLOYMENT_LABEL: ctx.namespace,
                        },
                        "taints": [
                            {
                                "key": SPOT_TAINT["key"],
                                "value": SPOT_TAINT["value"],
                                "effect": "NO_SCHEDULE",
                            }
                        ]
                        if spot
                        else [],
                        "workload_metadata_config": {"mode": "GKE_METADATA"},
                        "shielded_instance_config": {
                            "enable_secure_boot": True,
                            "enable_integrity_monitoring": True,
                        },
                        "resource_labels": ctx.labels,
                    },
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"pool_names": self.pool_names})
