"""What GKE and the GKE target refuse, checked on the spec before anything deploys.

Each rule raises `SpecRuleError` naming the field at fault. The facts come from
`gcp/gpus.py` (tables with their sources); no Pulumi or cloud SDK is imported here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from inferstack.components.gcp.gpus import (
    GKE_DRIVERS_SOURCE,
    GPU_KINDS,
    GPU_ZONES,
    MACHINES_SOURCE,
    N1_T4_MAX_VCPUS,
    POD_REQUESTS,
    REGION_ZONES,
    allocatable,
    driver_for,
    gpus_per_node,
    machine_shape,
)
from inferstack.components.spec.rules import SpecRuleError

if TYPE_CHECKING:
    from inferstack.components.gcp.target import GcpOptions
    from inferstack.components.spec.models import DeploymentSpec

ARTIFACT_REGISTRY_IMAGE = re.compile(
    r"^(?P<location>[a-z0-9-]+)-docker\.pkg\.dev/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])/"
    r"(?P<repo>[a-z]([-a-z0-9]*[a-z0-9])?)/(?P<image>[a-z0-9._/-]+)"
    r"(?::[\w.-]+|@sha256:[0-9a-f]{64})$"
)
RESERVED_TRACKS = ("stable", "canary", "base")
"""Track names the target uses itself (a variant may not take one)."""
MAX_CIDRS_PER_RULE = 10
"""Cloud Armor: a basic match condition lists at most 10 source ranges."""


def gcp_options(spec: DeploymentSpec) -> GcpOptions:
    """The spec's `targets.gcp` settings (defaults when absent)."""
    from inferstack.components.gcp.target import GcpOptions

    options = spec.options
    return options if isinstance(options, GcpOptions) else GcpOptions()


def region_of(spec: DeploymentSpec) -> str:
    """The region the node pools and the registry are in."""
    return spec.resolved_region or "us-central1"


def node_zones(spec: DeploymentSpec) -> tuple[str, ...]:
    """The node pools' zones: the spec's, else every zone of the region with the GPU."""
    chosen = gcp_options(spec).zones
    if chosen:
        return chosen
    region, accelerator = region_of(spec), spec.compute.accelerator
    if accelerator == "none":
        return REGION_ZONES.get(region, ())
    return GPU_ZONES.get(region, {}).get(accelerator, ())


def gke_minor(spec: DeploymentSpec) -> tuple[int, int]:
    """`targets.gcp.gke_version` as (1, minor)."""
    major, minor = gcp_options(spec).gke_version.split(".")
    return int(major), int(minor)


def _region_and_zones(spec: DeploymentSpec) -> None:
    """Node pools only get the GPU in zones that have it (GPU_ZONES_SOURCE)."""
    region, accelerator = region_of(spec), spec.compute.accelerator
    if region not in REGION_ZONES:
        raise SpecRuleError(
            "region",
            f"no zone table for {region!r} in gcp/gpus.py; use one of "
            f"{', '.join(REGION_ZONES)} or add the region's rows from its source",
        )
    available = REGION_ZONES[region]
    if accelerator != "none":
        available = GPU_ZONES[region].get(accelerator, ())
        if not available:
            where = [r for r, kinds in GPU_ZONES.items() if accelerator in kinds]
            raise SpecRuleError(
                "compute.accelerator",
                f"{accelerator} is in no zone of {region}; regions that have it: "
                f"{', '.join(where)}",
            )
    wrong = [z for z in gcp_options(spec).zones if z not in available]
    if wrong:
        what = accelerator if accelerator != "none" else "the region"
        raise SpecRuleError(
            "targets.gcp.zones",
            f"{', '.join(wrong)} {'has' if len(wrong) == 1 else 'have'} no {what} in {region}; "
            f"use zones from {', '.join(available)}",
        )


def _attached_location(spec: DeploymentSpec) -> None:
    """The pools go to zones of the spec's region: an attached cluster must be there."""
    location, region = gcp_options(spec).cluster_location, region_of(spec)
    if location and location != region and location.rsplit("-", 1)[0] != region:
        raise SpecRuleError(
            "targets.gcp.cluster_location",
            f"{location} is outside region {region}, where the node pools go; set region "
            "to the cluster's region",
        )


def _machine_and_gpu_count(spec: DeploymentSpec) -> None:
    """The machine type carries the GPU kind, and the spec's GPUs per replica fit it."""
    accelerator = spec.compute.accelerator
    if accelerator == "none":
        return
    kind, machine, count = GPU_KINDS[accelerator], spec.instance_type(), spec.compute.gpu_count
    if machine not in kind.machine_gpus:
        raise SpecRuleError(
            "targets.gcp.instance_type",
            f"{machine!r} is not a machine type that carries {accelerator} on GKE; "
            f"use one of {', '.join(kind.machine_gpus)}",
        )
    fixed = kind.machine_gpus[machine]
    if fixed:
        if count > fixed or fixed % count:
            raise SpecRuleError(
                "compute.gpu_count",
                f"{machine} has {fixed} {accelerator} GPU(s); a replica's gpu_count must "
                f"divide it (got {count})",
            )
        return
    if count not in kind.attachable:
        raise SpecRuleError(
            "compute.gpu_count",
            f"N1 machines take {', '.join(map(str, kind.attachable))} {accelerator} GPUs, "
            f"not {count}",
        )
    vcpus = int(machine.rsplit("-", 1)[1])
    if vcpus > N1_T4_MAX_VCPUS[count]:
        raise SpecRuleError(
            "targets.gcp.instance_type",
            f"{machine} has {vcpus} vCPUs; with {count} T4 GPU(s) N1 allows at most "
            f"{N1_T4_MAX_VCPUS[count]}",
        )


def _on_demand_capacity(spec: DeploymentSpec) -> None:
    """The on-demand pool (the fallback, or the only pool) needs an on-demand machine."""
    accelerator = spec.compute.accelerator
    if accelerator == "none":
        return
    machine = spec.instance_type()
    kind = GPU_KINDS[accelerator]
    if machine in kind.spot_only:
        on_demand = [m for m in kind.machine_gpus if m not in kind.spot_only]
        raise SpecRuleError(
            "targets.gcp.instance_type",
            f"{machine} is offered only as Spot or Flex-start, and the deployment always has "
            f"an on-demand pool (the fallback of spot); use {', '.join(on_demand)}",
        )


def replicas_per_node(spec: DeploymentSpec) -> int:
    """How many serving pods one node holds (GPU nodes: its GPUs over a pod's)."""
    accelerator, count = spec.compute.accelerator, spec.compute.gpu_count
    if accelerator == "none":
        return 1
    return max(1, gpus_per_node(accelerator, spec.instance_type(), count) // count)


def pod_requests(spec: DeploymentSpec) -> tuple[float, float]:
    """The serving container's cores and GiB (requests = limits)."""
    return POD_REQUESTS["none" if spec.compute.accelerator == "none" else "gpu"]


def _pods_fit_the_machine(spec: DeploymentSpec) -> None:
    """A node's allocatable CPU and memory (GKE's reservations and its DaemonSets taken
    off) hold the pods it is sized for; else they stay Pending and no scale-up helps."""
    machine = spec.instance_type()
    shape = machine_shape(machine)
    if shape is None:
        raise SpecRuleError(
            "targets.gcp.instance_type",
            f"{machine!r} is not a predefined shape in gcp/gpus.py ({MACHINES_SOURCE}); "
            "use a standard, highmem or highcpu type of a listed family",
        )
    per_node, (cpu, memory) = replicas_per_node(spec), pod_requests(spec)
    free_cpu, free_memory = allocatable(*shape)
    if per_node * cpu > free_cpu or per_node * memory > free_memory:
        raise SpecRuleError(
            "targets.gcp.instance_type",
            f"{machine} ({shape[0]} vCPUs, {shape[1]:g} GiB) leaves {free_cpu:.2f} cores and "
            f"{free_memory:.1f} GiB to pods after GKE's reservations and DaemonSets; "
            f"{per_node} serving pod(s) of {cpu:g} cores and {memory:g} GiB do not fit: "
            "use a larger machine type",
        )


def metrics_adapter_problem(spec: DeploymentSpec) -> str | None:
    """HPAs on Cloud Monitoring metrics read them through the Custom Metrics Stackdriver
    Adapter, which no part of this target installs: without it they never scale."""
    metric = spec.scaling.target_metric
    if metric not in ("gpu_utilization", "invocations_per_instance"):
        return None
    if gcp_options(spec).custom_metrics_adapter:
        return None
    return (
        "deployment.targets.gcp.custom_metrics_adapter: "
        f"scaling.target_metric {metric} is read from Cloud Monitoring through the "
        "Custom Metrics Stackdriver Adapter, which the cluster must run (with "
        "roles/monitoring.viewer for its Workload Identity: docs/gke.md); install it "
        "and set custom_metrics_adapter: true, or use cpu_utilization"
    )


def runtime_gpu_cuda() -> tuple[int, int]:
    """The CUDA version of the runtime's GPU image (its nvidia/cuda base image)."""
    from inferstack.components.image.context import GPU_BASE_IMAGE

    found = re.search(r"cuda:(\d+)\.(\d+)", GPU_BASE_IMAGE)
    if found is None:
        raise ValueError(f"no CUDA version in the GPU base image {GPU_BASE_IMAGE!r}")
    return int(found.group(1)), int(found.group(2))


def _driver_runs_the_image(spec: DeploymentSpec) -> None:
    """GKE's managed driver must run the CUDA of the runtime's GPU image."""
    if spec.compute.accelerator == "none":
        return
    options, cuda = gcp_options(spec), runtime_gpu_cuda()
    driver = driver_for(gke_minor(spec), options.gpu_driver_version)
    if driver is None:
        raise SpecRuleError(
            "targets.gcp.gke_version",
            f"{options.gke_version} is older than the driver table ({GKE_DRIVERS_SOURCE}); "
            "use 1.30 or later",
        )
    if driver.cuda < cuda:
        raise SpecRuleError(
            "targets.gcp.gpu_driver_version",
            f"{options.gpu_driver_version} on GKE {options.gke_version} installs NVIDIA "
            f"{driver.driver} (CUDA {driver.cuda[0]}.{driver.cuda[1]}), older than the "
            f"runtime's GPU image (CUDA {cuda[0]}.{cuda[1]}): the container would fail to "
            "start; use LATEST with gke_version 1.32 or later",
        )


def _not_built_on_gke(spec: DeploymentSpec) -> None:
    """Spec features this target does not provide yet: refused, not ignored."""
    refusals = (
        ("gateway.quota_per_day", spec.gateway.quota_per_day is not None,
         "Cloud Armor limits rates per client, not quotas per key; remove it"),
        ("scaling.schedules", bool(spec.scaling.schedules),
         "the HPA has no scheduled windows on gcp; remove them"),
        ("rollout.strategy", spec.rollout.strategy in ("linear", "blue_green"),
         "gcp rolls out all_at_once (a rolling update with no unavailable pods) or canary "
         "(Gateway route weights); use one of them"),
    )  # fmt: skip
    for field, broken, message in refusals:
        if broken:
            raise SpecRuleError(field, message)


MAX_STABILIZATION_S = 3600
"""The API server's bound on an HPA's stabilizationWindowSeconds."""
MAX_LOG_RETENTION_DAYS = 3650
"""Cloud Logging bucket retention: 1 to 3650 days."""


def _cloud_limits(spec: DeploymentSpec) -> None:
    """Values the spec allows that GKE or Cloud Logging refuse at apply time."""
    for field in ("scale_in_cooldown_s", "scale_out_cooldown_s"):
        value = getattr(spec.scaling, field)
        if value > MAX_STABILIZATION_S:
            raise SpecRuleError(
                f"scaling.{field}",
                f"{value} s is above the HPA's {MAX_STABILIZATION_S} s stabilization window",
            )
    retention = spec.observability.log_retention_days
    if retention > MAX_LOG_RETENTION_DAYS:
        raise SpecRuleError(
            "observability.log_retention_days",
            f"{retention} days: a Cloud Logging bucket keeps logs 1 to "
            f"{MAX_LOG_RETENTION_DAYS} days",
        )


def _keys_need_tls(spec: DeploymentSpec) -> None:
    """An API key sent over plain HTTP to a public address is readable on the way."""
    if spec.gateway.auth == "api_key" and not spec.gateway.tls and spec.environment != "dev":
        raise SpecRuleError(
            "gateway.tls",
            "gateway.auth api_key over a plain HTTP listener sends the key in clear text; "
            "turn TLS on (with targets.gcp.domain) outside dev",
        )


def _canary(spec: DeploymentSpec) -> None:
    """A canary needs the stable version's image; both are given together."""
    options = gcp_options(spec)
    if (options.stable_version is None) != (options.stable_image is None):
        raise SpecRuleError(
            "targets.gcp.stable_image",
            "stable_version and stable_image go together (the version now serving and its image)",
        )
    if spec.rollout.strategy == "canary" and spec.rollout.auto_rollback:
        raise SpecRuleError(
            "rollout.auto_rollback",
            "GKE has no controller that moves route weights back when an alert fires; set "
            "false (the alerts notify; roll back by removing targets.gcp.stable_version and "
            "setting model.version to it)",
        )
    if options.stable_version and spec.rollout.strategy != "canary":
        raise SpecRuleError(
            "targets.gcp.stable_version", "is read by canary rollouts only; set rollout.strategy"
        )
    if options.stable_version == spec.model.version:
        raise SpecRuleError(
            "targets.gcp.stable_version",
            f"equals model.version {spec.model.version}; a canary needs a new version",
        )
    for field, image in (("image", options.image), ("stable_image", options.stable_image)):
        if image and not ARTIFACT_REGISTRY_IMAGE.match(image):
            raise SpecRuleError(
                f"targets.gcp.{field}",
                f"{image!r} is not an Artifact Registry image "
                "(<location>-docker.pkg.dev/<project>/<repo>/<image>:<tag>)",
            )
    for i, variant in enumerate(spec.rollout.variants):
        where = f"rollout.variants.{i}"
        if variant.name in RESERVED_TRACKS:
            raise SpecRuleError(f"{where}.name", f"{variant.name!r} names a track of the target")
        if options.image or "://" in (variant.artifact or spec.model.artifact):
            raise SpecRuleError(
                f"{where}.artifact",
                "A/B variants run images built from local bundles on gcp (no targets.gcp.image, "
                "no gs:// artifacts)",
            )
    if spec.model.artifact.startswith("gs://") and not options.image:
        raise SpecRuleError(
            "targets.gcp.image",
            f"{spec.model.artifact} has no bundle to build an image from; set the image "
            "built from it (inferstack build, linux/amd64)",
        )
    if "://" in spec.model.artifact and not spec.model.artifact.startswith("gs://"):
        raise SpecRuleError("model.artifact", "gcp reads local bundles or gs:// artifacts")


GCP_RULES = (
    _region_and_zones,
    _attached_location,
    _machine_and_gpu_count,
    _on_demand_capacity,
    _pods_fit_the_machine,
    _driver_runs_the_image,
    _not_built_on_gke,
    _cloud_limits,
    _keys_need_tls,
    _canary,
)
