"""Where a GKE deployment lives (project, region, zones) and its fixed names."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from inferstack.components.gcp.naming import (
    CERTIFICATE,
    CLUSTER,
    COMPUTE,
    K8S_DEPLOYMENT,
    K8S_LABEL,
    LOG_BUCKET,
    REPOSITORY,
    SERVICE_ACCOUNT_ID,
    NameRule,
    digest,
    fit,
)
from inferstack.components.gcp.rules import gcp_options, node_zones, region_of
from inferstack.components.spec.models import DeploymentSpec


class GcpSetupError(ValueError):
    """The stack lacks a setting the GKE target needs (named in the message)."""


@dataclass(frozen=True)
class GcpContext:
    """What every GKE child component needs besides the spec."""

    spec: DeploymentSpec
    """The validated deployment spec."""
    project: str
    """GCP project id."""
    region: str
    """Region of the cluster, registry and regional resources."""
    zones: tuple[str, ...]
    """Zones of the node pools."""
    base: str
    """`<model>-<stack>`: the stem every physical name is fitted from."""

    def name(self, rule: NameRule, *role: str) -> str:
        """A physical name for `role`, fitted to `rule`."""
        return fit(rule, self.base, *role)

    @property
    def labels(self) -> dict[str, str]:
        """GCP labels (lower-case keys and values, 63 characters) on every resource."""
        raw = {**self.spec.tags, "inferstack-model": self.spec.model.name}
        return {fit(K8S_LABEL, k)[:63]: fit(K8S_LABEL, v)[:63] if v else "" for k, v in raw.items()}

    @property
    def namespace(self) -> str:
        return self.name(K8S_LABEL)

    @property
    def cluster_name(self) -> str:
        return gcp_options(self.spec).cluster or self.name(CLUSTER)

    @property
    def cluster_location(self) -> str:
        return gcp_options(self.spec).cluster_location or self.region

    @property
    def workload_pool(self) -> str:
        return f"{self.project}.svc.id.goog"

    def deployment_name(self, *role: str) -> str:
        return fit(K8S_DEPLOYMENT, self.spec.model.name, *role)

    def service_name(self, track: str) -> str:
        return fit(K8S_LABEL, self.spec.model.name, track)

    def account_id(self, role: str) -> str:
        return fit(SERVICE_ACCOUNT_ID, self.spec.model.name[:14], role, digest(self.base, 4))

    def repository_id(self) -> str:
        return self.name(REPOSITORY)

    def compute_name(self, *role: str) -> str:
        return self.name(COMPUTE, *role)

    def certificate_name(self, *role: str) -> str:
        return self.name(CERTIFICATE, *role)

    def log_bucket(self) -> str:
        return self.name(LOG_BUCKET, "logs")


def context_for(name: str, spec: DeploymentSpec) -> GcpContext:
    """The context of deployment `name` in the current stack."""
    project = gcp_options(spec).project or pulumi.Config("gcp").get("project")
    if not project:
        raise GcpSetupError(
            "deployment.targets.gcp.project: no GCP project; set it or the gcp:project config"
        )
    return GcpContext(
        spec=spec,
        project=project,
        region=region_of(spec),
        zones=node_zones(spec),
        base=f"{name}-{pulumi.get_stack()}",
    )
