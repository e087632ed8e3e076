"""`GkeEndpoint`: the spec on GKE: cluster (or attached), GPU pools, workloads, gateway,
monitoring and the runtime image in Artifact Registry."""

from __future__ import annotations

import pulumi

from inferstack.components.errors import SpecError
from inferstack.components.gcp.cluster import GkeCluster, GkeClusterArgs
from inferstack.components.gcp.context import context_for
from inferstack.components.gcp.edge import GatewayEdge, GatewayEdgeArgs
from inferstack.components.gcp.nodepools import GpuNodePools, GpuNodePoolsArgs
from inferstack.components.gcp.observability import GkeObservability, GkeObservabilityArgs
from inferstack.components.gcp.registry import ArtifactRepository, ArtifactRepositoryArgs
from inferstack.components.gcp.rules import gcp_options, metrics_adapter_problem
from inferstack.components.gcp.serving import EdgeNames, ServingWorkloads, ServingWorkloadsArgs
from inferstack.components.spec.config import check_local_bundle
from inferstack.components.spec.models import DeploymentSpec


def validate(spec: DeploymentSpec) -> None:
    """What a deploy needs beyond the spec's rules (gcp/rules.py): the bundle on disk,
    with TLS the host name the Google-managed certificate is issued for, and for HPAs on
    Cloud Monitoring metrics the adapter that serves them."""
    if spec.target != "gcp":
        raise SpecError([f"deployment.target: GkeEndpoint needs target gcp, got {spec.target!r}"])
    if spec.gateway.tls and not gcp_options(spec).domain:
        raise SpecError(
            [
                "deployment.targets.gcp.domain: gateway.tls needs the host name the "
                "Google-managed certificate is issued for (or gateway.tls: false outside prod)"
            ]
        )
    adapter = metrics_adapter_problem(spec)
    if adapter:
        raise SpecError([adapter])
    if not gcp_options(spec).image:
        check_local_bundle(spec)


def dns_records(domain: str | None, address: str, authorization: object) -> list[dict[str, str]]:
    """What the operator creates at the DNS provider: the domain's A record to the
    gateway's address, and the managed certificate's DNS authorization CNAME (the
    certificate stays PROVISIONING until Google sees it). Empty without a domain."""
    if not domain:
        return []
    records = [{"name": f"{domain}.", "type": "A", "data": address}]
    for record in authorization if isinstance(authorization, list) else []:
        fields = record if isinstance(record, dict) else vars(record)
        records.append({k: str(fields[k]) for k in ("name", "type", "data")})
    return records


class GkeEndpoint(pulumi.ComponentResource):
    """A model deployment on GKE (docs/gke.md)."""

    url: pulumi.Output[str]
    """Base URL of the gateway (POST {url}/invocations)."""
    api_key: pulumi.Output[str]
    """The caller API key, a secret ("" unless gateway.auth is api_key)."""
    dashboard_url: pulumi.Output[str]
    """Cloud Monitoring dashboard ("" when off)."""
    cluster_name: pulumi.Output[str]
    dns_authorization: pulumi.Output[object]
    """The CNAME to create for the managed certificate (with TLS)."""
    extra_outputs: dict[str, pulumi.Output[object]]
    """Stack outputs beside the common three: `dns_records`, the records to create at the
    domain's DNS provider (the A record to the gateway, the certificate's CNAME)."""

    def __init__(
        self, name: str, spec: DeploymentSpec, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        validate(spec)
        super().__init__("inferstack:gcp:GkeEndpoint", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = context_for(name, spec)
        cluster = GkeCluster(f"{name}-cluster", GkeClusterArgs(ctx), opts=child)
        pools = GpuNodePools(
            f"{name}-pools",
            GpuNodePoolsArgs(ctx, cluster.name, cluster.location, cluster.node_service_account),
            opts=child,
        )
        repository = ArtifactRepository(
            f"{name}-registry",
            ArtifactRepositoryArgs(ctx, cluster.node_service_account),
            opts=child,
        )
        edge = GatewayEdge(f"{name}-edge", GatewayEdgeArgs(ctx), opts=child)
        serving = ServingWorkloads(
            f"{name}-serving",
            ServingWorkloadsArgs(
                ctx,
                image=repository.image,
                variant_images=dict(repository.variant_images),
                edge=EdgeNames(
                    edge.address_name,
                    edge.security_policy,
                    edge.certificate_map,
                    edge.ssl_policy,
                ),
                provider=cluster.provider,
                depends_on=(pools, repository, edge),
                cluster=cluster.created,
            ),
            opts=child,
        )
        observability = GkeObservability(
            f"{name}-observability", GkeObservabilityArgs(ctx), opts=child
        )
        domain = gcp_options(spec).domain
        scheme = "https" if spec.gateway.tls else "http"
        self.url = (
            pulumi.Output.from_input(f"{scheme}://{domain}")
            if domain
            else edge.address.apply(lambda ip: f"{scheme}://{ip}")
        )
        self.api_key = serving.api_key
        self.dashboard_url = observability.dashboard_url
        self.cluster_name = cluster.name
        self.dns_authorization = edge.dns_authorization
        self.extra_outputs = {
            "dns_records": pulumi.Output.all(edge.address, edge.dns_authorization).apply(
                lambda v: dns_records(domain, str(v[0]), v[1])
            )
        }
        self.register_outputs(
            {
                "url": self.url,
                "api_key": self.api_key,
                "dashboard_url": self.dashboard_url,
                "cluster_name": self.cluster_name,
                "dns_authorization": self.dns_authorization,
            }
        )
