"""The Google GKE target: GPU node pools (spot + on-demand), Kubernetes workloads behind a
GKE Gateway with Cloud Armor, Cloud Monitoring. Its settings live here; no Pulumi import."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from inferstack.components.gcp.rules import GCP_RULES
from inferstack.components.spec.options import CloudTargetOptions
from inferstack.components.target import Target, TargetProfile

# Only the global class: Cloud Armor (global policies) and Certificate Manager maps attach to it.
GatewayClass = Literal["gke-l7-global-external-managed"]


class GcpOptions(CloudTargetOptions):
    """GKE-only settings: project, the cluster (created or attached), zones, driver, gateway."""

    instance_type: str | None = Field(
        None, description="GCE machine type of the GPU node pools (default: by GPU kind)."
    )
    project: str | None = Field(
        None,
        pattern=r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$",
        description="GCP project id (default: the provider's gcp:project).",
    )
    cluster: str | None = Field(
        None,
        description="Attach to this existing GKE cluster (its name) instead of creating one; "
        "it needs Workload Identity, the Gateway API and managed Prometheus turned on.",
    )
    cluster_location: str | None = Field(
        None, description="Region or zone of the attached cluster (default: the region)."
    )
    zones: tuple[str, ...] = Field(
        (), description="Zones of the node pools (default: every zone of the region with the GPU)."
    )
    release_channel: Literal["RAPID", "REGULAR", "STABLE"] = Field(
        "REGULAR", description="GKE release channel of a created cluster."
    )
    gke_version: str = Field(
        "1.33",
        pattern=r"^1\.\d+$",
        description="The oldest GKE minor version the cluster runs (a created cluster takes "
        "its release channel's default); picks the NVIDIA driver the CUDA check assumes.",
    )
    gpu_driver_version: Literal["DEFAULT", "LATEST"] = Field(
        "LATEST", description="GKE-managed NVIDIA driver installation of the GPU node pools."
    )
    master_ipv4_cidr: str = Field(
        "172.16.0.32/28", description="The /28 of a created cluster's private control plane."
    )
    master_authorized_cidrs: tuple[str, ...] = Field(
        (), description="CIDRs allowed to reach a created cluster's control plane (CI, admins)."
    )
    domain: str | None = Field(
        None,
        pattern=r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$",
        description="Host name the gateway serves with a Google-managed certificate "
        "(needed when gateway.tls is on).",
    )
    gateway_class: GatewayClass = Field(
        "gke-l7-global-external-managed", description="GKE GatewayClass of the external entry."
    )
    custom_metrics_adapter: bool = Field(
        False,
        description="The cluster runs the Custom Metrics Stackdriver Adapter with its own "
        "roles/monitoring.viewer grant (docs/gke.md, installed by the cluster's operator); "
        "scaling.target_metric gpu_utilization and invocations_per_instance need it.",
    )
    image: str | None = Field(
        None,
        description="Runtime image in Artifact Registry "
        "(<location>-docker.pkg.dev/<project>/<repo>/<image>:<tag>|@sha256:...) instead of one "
        "built from the bundle; required for gs:// artifacts.",
    )
    batch_jobs: bool = Field(
        False,
        description="Build the runtime image with the batch extra (pyarrow) and turn on the "
        "cluster's Cloud Storage FUSE CSI driver so that `inferstack score --stack` can run "
        "it as a Kubernetes Job (docs/batch.md); an image given in `image` must then hold it "
        "too (`inferstack build --extra batch`).",
    )
    stable_version: str | None = Field(
        None,
        description="Canary rollouts: the model version now serving; the stable Deployment "
        "keeps it (with stable_image) while the spec's version takes rollout.canary_percent.",
    )
    stable_image: str | None = Field(
        None, description="Canary rollouts: the image of stable_version (Artifact Registry)."
    )

    @field_validator("master_authorized_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as err:
                raise ValueError(f"{cidr!r} is not a CIDR block") from err
        return value

    @field_validator("master_ipv4_cidr")
    @classmethod
    def _master_range(cls, value: str) -> str:
        try:
            network = ipaddress.ip_network(value)
        except ValueError as err:
            raise ValueError(f"{value!r} is not a CIDR block") from err
        if network.prefixlen != 28 or not network.is_private:
            raise ValueError(f"{value!r} must be a private /28 (GKE's control-plane range)")
        return value


TARGET = Target(
    name="gcp",
    profile=TargetProfile(
        name="gcp",
        default_region="us-central1",
        instance_types={
            "none": "n2-standard-4",
            "nvidia-t4": "n1-standard-8",
            "nvidia-l4": "g2-standard-8",
            "nvidia-a100": "a2-highgpu-1g",
            "nvidia-h100": "a3-highgpu-8g",
        },
        gpu_families={
            "nvidia-t4": ("n1-",),
            "nvidia-l4": ("g2-",),
            "nvidia-a100": ("a2-",),
            "nvidia-h100": ("a3-",),
        },
        spot=True,
        # The HPA keeps at least one pod (node pools do go to zero).
        scale_to_zero=False,
        # docs/gke.md, "Authentication": API keys are checked by the runtime behind the
        # gateway; jwt and iam (IAP) are not built on GKE yet.
        # Nothing on this platform moves traffic back when an alert fires.
        rollback_on_alarms=False,
        auth_modes=("api_key", "none"),
    ),
    options=GcpOptions,
    rules=GCP_RULES,
    component="inferstack.components.gcp.endpoint:GkeEndpoint",
    plan_fakes=("inferstack.components.image.plan_fakes", "inferstack.components.gcp.plan_fakes"),
)
