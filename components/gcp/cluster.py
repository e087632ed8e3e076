"""`GkeCluster`: a private, VPC-native GKE cluster with Workload Identity, or an attached one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp
import pulumi_kubernetes as k8s

from inferstack.components.gcp.context import GcpContext
from inferstack.components.gcp.rules import gcp_options

NODE_ROLES = (
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
    "roles/autoscaling.metricsWriter",
)
"""GKE's least-privilege node service account roles (GKE hardening guide)."""
SUBNET_RANGES = {"nodes": "10.10.0.0/20", "pods": "10.20.0.0/14", "services": "10.24.0.0/20"}


@dataclass(frozen=True)
class GkeClusterArgs:
    """The deployment's context."""

    ctx: GcpContext
    """Project, region, names and the spec (targets.gcp.cluster: attach instead)."""


class AttachedClusterError(ValueError):
    """The attached cluster lacks a feature the deployment needs (named in the message)."""


def attached_cluster_problems(
    name: str,
    workload_pool: str | None,
    expected_pool: str,
    gateway_channel: str | None,
    managed_prometheus: bool,
    datapath_provider: str | None,
    network_policy: bool,
    gcs_fuse: bool | None = None,
) -> list[str]:
    """What an attached cluster misses; read from the cluster at preview, before any
    node pool or workload is created. `gcs_fuse`: whether its Cloud Storage FUSE CSI
    driver is on (None: the stack runs no batch Jobs, which mount their files with it)."""
    problems = []
    if workload_pool != expected_pool:
        problems.append(
            f"Workload Identity with pool {expected_pool} (has {workload_pool or 'none'}): "
            "gcloud container clusters update --workload-pool"
        )
    if gateway_channel in (None, "", "CHANNEL_DISABLED"):
        problems.append("the Gateway API: gcloud container clusters update --gateway-api=standard")
    if not managed_prometheus:
        problems.append(
            "managed Prometheus: gcloud container clusters update --enable-managed-prometheus"
        )
    if datapath_provider != "ADVANCED_DATAPATH" and not network_policy:
        problems.append("a network policy dataplane (Dataplane V2 or network policy enforcement)")
    if gcs_fuse is False:
        problems.append(
            "the Cloud Storage FUSE CSI driver for batch Jobs (targets.gcp.batch_jobs): gcloud "
            "container clusters update --update-addons GcsFuseCsiDriver=ENABLED"
        )
    return [f"targets.gcp.cluster: {name} needs {p}" for p in problems]


def _check_attached(found: Any, name: str, expected_pool: str, batch_jobs: bool) -> str:
    pools = [c.workload_pool for c in found.workload_identity_configs]
    fuse = any(
        c.enabled
        for a in (found.addons_configs or [])
        for c in (a.gcs_fuse_csi_driver_configs or [])
    )
    channels = [c.channel for c in found.gateway_api_configs]
    prometheus = any(p.enabled for m in found.monitoring_configs for p in m.managed_prometheuses)
    policy = any(p.enabled for p in found.network_policies)
    problems = attached_cluster_problems(
        name,
        pools[0] if pools else None,
        expected_pool,
        channels[0] if channels else None,
        prometheus,
        found.datapath_provider,
        policy,
        fuse if batch_jobs else None,
    )
    if problems:
        raise AttachedClusterError("; ".join(problems))
    return str(found.name)


def kubeconfig(name: str, server: str, token: str, ca: str | None) -> str:
    """A kubeconfig for the Kubernetes provider: the deployer's own Google access token
    (no exec plugin, so CI needs no gcloud); `ca` None for the DNS-based endpoint, which
    serves a publicly trusted certificate."""
    trust = f', certificate-authority-data: "{ca}"' if ca else ""
    return f"""apiVersion: v1
kind: Config
clusters:
- name: {name}
  cluster: {{server: "https://{server}"{trust}}}
contexts:
- name: {name}
  context: {{cluster: {name}, user: {name}}}
current-context: {name}
users:
- name: {name}
  user: {{token: "{token}"}}
"""


def _dns_endpoint(config: Any) -> tuple[str, str | None]:
    return str(config.dns_endpoint_config.endpoint), None


def _attached_endpoint(found: Any) -> tuple[str, str | None]:
    """The attached cluster's DNS endpoint when it takes external traffic, else its IP
    endpoint and CA (then it must be reachable from where Pulumi runs: docs/gke.md)."""
    for config in found.control_plane_endpoints_configs or []:
        for dns in config.dns_endpoint_configs or []:
            if dns.allow_external_traffic and dns.endpoint:
                return str(dns.endpoint), None
    return str(found.endpoint), str(found.master_auths[0].cluster_ca_certificate)


class GkeCluster(pulumi.ComponentResource):
    """The cluster the node pools and workloads go into, and a Kubernetes provider for it.

    Created: private nodes (no external IPs), the control plane's DNS-based endpoint
    (IAM-authorised; what Pulumi uses) and an IP endpoint limited to
    `master_authorized_cidrs`, VPC-native ranges on its own subnet with Private Google
    Access, Workload Identity, the Gateway API, managed Prometheus, a release channel and
    deletion protection, plus a small system pool for what the GPU taints keep off the
    GPU pools. Attached (`targets.gcp.cluster`): read by name; it must already have these.
    """

    name: pulumi.Output[str]
    location: pulumi.Output[str]
    node_service_account: pulumi.Output[str]
    """Email of the GPU pools' node service account (pulls images)."""
    provider: k8s.Provider
    created: pulumi.Resource | None
    """The created cluster (None when attached): its Workload Identity pool exists only
    once it does, so the pool's IAM bindings wait for it."""

    def __init__(
        self, name: str, args: GkeClusterArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:gcp:GkeCluster", name, None, opts)
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self)
        node_sa = gcp.serviceaccount.Account(
            f"{name}-nodes",
            account_id=ctx.account_id("nodes"),
            display_name=f"GKE nodes of {ctx.base}",
            project=ctx.project,
            opts=child,
        )
        for role in NODE_ROLES:
            gcp.projects.IAMMember(
                f"{name}-nodes-{role.split('/')[1]}",
                project=ctx.project,
                role=role,
                member=node_sa.email.apply(lambda e: f"serviceAccount:{e}"),
                opts=child,
            )
        if gcp_options(ctx.spec).cluster:
            found = gcp.container.get_cluster_output(
                name=ctx.cluster_name, location=ctx.cluster_location, project=ctx.project
            )
            self.name = found.apply(
                lambda f: _check_attached(
                    f, ctx.cluster_name, ctx.workload_pool, gcp_options(ctx.spec).batch_jobs
                )
            )
            self.location = pulumi.Output.from_input(ctx.cluster_location)
            self.created = None
            server: pulumi.Output[tuple[str, str | None]] = found.apply(_attached_endpoint)
        else:
            cluster = self._create(name, ctx, node_sa.email)
            self.name, self.location, self.created = cluster.name, cluster.location, cluster
            # The DNS-based endpoint: reachable from any network that reaches Google APIs
            # (CI runners have no fixed IPs), authorised by IAM, not by source address.
            server = cluster.control_plane_endpoints_config.apply(_dns_endpoint)
        self.node_service_account = node_sa.email
        token = gcp.organizations.get_client_config_output().access_token
        config: pulumi.Output[str] = pulumi.Output.all(self.name, server, token).apply(
            lambda v: kubeconfig(str(v[0]), v[1][0], str(v[2]), v[1][1])
        )
        self.provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=pulumi.Output.secret(config),  # type: ignore[arg-type]
            enable_server_side_apply=True,
            opts=child,
        )
        self.register_outputs({"name": self.name, "location": self.location})

    def _create(
        self, name: str, ctx: GcpContext, node_sa: pulumi.Output[str]
    ) -> gcp.container.Cluster:
        options = gcp_options(ctx.spec)
        child = pulumi.ResourceOptions(parent=self)
        network = gcp.compute.Network(
            f"{name}-vpc",
            name=ctx.compute_name("vpc"),
            project=ctx.project,
            auto_create_subnetworks=False,
            opts=child,
        )
        subnet = gcp.compute.Subnetwork(
            f"{name}-subnet",
            name=ctx.compute_name("nodes"),
            project=ctx.project,
            region=ctx.region,
            network=network.id,
            ip_cidr_range=SUBNET_RANGES["nodes"],
            private_ip_google_access=True,
            secondary_ip_ranges=[
                {"range_name": "pods", "ip_cidr_range": SUBNET_RANGES["pods"]},
                {"range_name": "services", "ip_cidr_range": SUBNET_RANGES["services"]},
            ],
            log_config={"aggregation_interval": "INTERVAL_5_MIN", "flow_sampling": 0.5},
            opts=child,
        )
        authorized = [
            {"cidr_block": c, "display_name": f"authorized-{i}"}
            for i, c in enumerate(options.master_authorized_cidrs)
        ]
        cluster = gcp.container.Cluster(
            f"{name}-cluster",
            name=ctx.cluster_name,
            project=ctx.project,
            location=ctx.region,
            node_locations=list(ctx.zones),
            network=network.id,
            subnetwork=subnet.id,
            remove_default_node_pool=True,
            initial_node_count=1,
            deletion_protection=True,
            release_channel={"channel": options.release_channel},
            # No min_master_version: the channel's default (a pinned minor leaves the
            # channel after about 14 months and creation fails); gke_version is the floor
            # the driver/CUDA rule reads.
            networking_mode="VPC_NATIVE",
            datapath_provider="ADVANCED_DATAPATH",  # Dataplane V2 enforces NetworkPolicy
            ip_allocation_policy={
                "cluster_secondary_range_name": "pods",
                "services_secondary_range_name": "services",
            },
            private_cluster_config={
                "enable_private_nodes": True,
                "enable_private_endpoint": False,
                "master_ipv4_cidr_block": options.master_ipv4_cidr,
            },
            # The IP endpoint admits only these (none: no public source); Pulumi and CI use
            # the DNS endpoint, where IAM (container.clusters.connect) decides.
            master_authorized_networks_config=cast(Any, {"cidr_blocks": authorized}),
            control_plane_endpoints_config={
                "dns_endpoint_config": {"allow_external_traffic": True}
            },
            workload_identity_config={"workload_pool": ctx.workload_pool},
            gateway_api_config={"channel": "CHANNEL_STANDARD"},
            # Batch Jobs mount their gs:// folders with the Cloud Storage FUSE CSI driver,
            # off by default on Standard clusters; turning it on later updates in place.
            addons_config=(
                {"gcs_fuse_csi_driver_config": {"enabled": True}} if options.batch_jobs else None
            ),
            monitoring_config=cast(
                Any,
                {
                    "enable_components": ["SYSTEM_COMPONENTS"],
                    "managed_prometheus": {"enabled": True},
                },
            ),
            logging_config={"enable_components": ["SYSTEM_COMPONENTS", "WORKLOADS"]},
            enable_shielded_nodes=True,
            resource_labels=ctx.labels,
            # The default pool is removed at once; ignore its config so it is not recreated.
            node_config=cast(Any, {"service_account": node_sa, "oauth_scopes": [_SCOPE]}),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["nodeConfig"]),
        )
        gcp.container.NodePool(
            f"{name}-system",
            name="system",
            project=ctx.project,
            cluster=cluster.name,
            location=ctx.region,
            autoscaling={"total_min_node_count": 1, "total_max_node_count": 3},
            management={"auto_repair": True, "auto_upgrade": True},
            node_config={
                "machine_type": "e2-standard-4",
                "service_account": node_sa,
                "oauth_scopes": [_SCOPE],
                "workload_metadata_config": {"mode": "GKE_METADATA"},
                "shielded_instance_config": {
                    "enable_secure_boot": True,
                    "enable_integrity_monitoring": True,
                },
                "labels": ctx.labels,
            },
            opts=child,
        )
        return cluster


_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
