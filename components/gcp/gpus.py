"""GKE's GPU facts: accelerator per machine family, GPUs per machine type, zones, drivers.

Everything here is a table with its source, read by `gcp/rules.py` before anything
deploys. The tables were written on 2026-12-01 from Google's pages named beside each
one; this machine had no access to those pages, so the rows are as the pages read when
they were last checked by hand. Update the table (and its date) when Google adds a zone.
"""

from __future__ import annotations

from dataclasses import dataclass

TABLE_DATE = "2026-12-01"
GPU_MACHINES_SOURCE = "https://cloud.google.com/compute/docs/gpus"
GPU_ZONES_SOURCE = "https://cloud.google.com/compute/docs/gpus/gpu-regions-zones"
GKE_DRIVERS_SOURCE = (
    "https://cloud.google.com/kubernetes-engine/docs/how-to/gpus#installing_drivers"
)


@dataclass(frozen=True)
class GpuKind:
    """How GKE names one of the spec's GPU kinds and which machines carry it."""

    accelerator_type: str
    """`guest_accelerator.type` of the node pool (GKE's name for the GPU)."""
    family: str
    """Machine-type prefix of the only family that carries it."""
    machine_gpus: dict[str, int]
    """Machine type -> the GPUs it comes with (G2, A2, A3: fixed by the type)."""
    attachable: tuple[int, ...] = ()
    """N1 only: the GPU counts that may be attached to any N1 type (no fixed count)."""
    spot_only: frozenset[str] = frozenset()
    """Machine types Compute Engine offers only as Spot (or Flex-start), never on demand."""
    cuda_compute: str = ""
    """For messages: the GPU's architecture."""


# Source: GPU_MACHINES_SOURCE ("GPU machine types"), as of TABLE_DATE.
GPU_KINDS: dict[str, GpuKind] = {
    "nvidia-t4": GpuKind(
        "nvidia-tesla-t4",
        "n1-",
        {
            f"n1-{shape}-{cpus}": 0
            for shape in ("standard", "highmem", "highcpu")
            for cpus in (2, 4, 8, 16, 32, 64, 96)
        },
        attachable=(1, 2, 4),
        cuda_compute="Turing",
    ),
    "nvidia-l4": GpuKind(
        "nvidia-l4",
        "g2-",
        {
            "g2-standard-4": 1,
            "g2-standard-8": 1,
            "g2-standard-12": 1,
            "g2-standard-16": 1,
            "g2-standard-32": 1,
            "g2-standard-24": 2,
            "g2-standard-48": 4,
            "g2-standard-96": 8,
        },
        cuda_compute="Ada Lovelace",
    ),
    "nvidia-a100": GpuKind(
        "nvidia-tesla-a100",
        "a2-",
        {
            "a2-highgpu-1g": 1,
            "a2-highgpu-2g": 2,
            "a2-highgpu-4g": 4,
            "a2-highgpu-8g": 8,
            "a2-megagpu-16g": 16,
        },
        cuda_compute="Ampere",
    ),
    "nvidia-h100": GpuKind(
        "nvidia-h100-80gb",
        "a3-",
        {"a3-highgpu-1g": 1, "a3-highgpu-2g": 2, "a3-highgpu-4g": 4, "a3-highgpu-8g": 8},
        # "a3-highgpu-1g, -2g and -4g are available only with Spot VMs or Flex-start".
        spot_only=frozenset({"a3-highgpu-1g", "a3-highgpu-2g", "a3-highgpu-4g"}),
        cuda_compute="Hopper",
    ),
}

# N1 vCPU ceilings per attached T4 count (GPU_MACHINES_SOURCE, "N1 with T4").
N1_T4_MAX_VCPUS = {1: 48, 2: 48, 4: 96}

# Source: GPU_ZONES_SOURCE, as of TABLE_DATE: region -> GPU kind -> zones that have it.
GPU_ZONES: dict[str, dict[str, tuple[str, ...]]] = {
    "us-central1": {
        "nvidia-t4": ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"),
        "nvidia-l4": ("us-central1-a", "us-central1-b", "us-central1-c"),
        "nvidia-a100": ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"),
        "nvidia-h100": ("us-central1-a", "us-central1-b", "us-central1-c"),
    },
    "us-east4": {
        "nvidia-t4": ("us-east4-a", "us-east4-b", "us-east4-c"),
        "nvidia-l4": ("us-east4-a", "us-east4-c"),
        "nvidia-h100": ("us-east4-a", "us-east4-b", "us-east4-c"),
    },
    "us-west1": {
        "nvidia-t4": ("us-west1-a", "us-west1-b"),
        "nvidia-l4": ("us-west1-a", "us-west1-b", "us-west1-c"),
        "nvidia-a100": ("us-west1-b",),
        "nvidia-h100": ("us-west1-a", "us-west1-b"),
    },
    "europe-west4": {
        "nvidia-t4": ("europe-west4-a", "europe-west4-b", "europe-west4-c"),
        "nvidia-l4": ("europe-west4-a", "europe-west4-b", "europe-west4-c"),
        "nvidia-a100": ("europe-west4-a", "europe-west4-b"),
        "nvidia-h100": ("europe-west4-a", "europe-west4-b", "europe-west4-c"),
    },
}
# CPU pools run in the region's standard zones.
REGION_ZONES: dict[str, tuple[str, ...]] = {
    "us-central1": ("us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"),
    "us-east4": ("us-east4-a", "us-east4-b", "us-east4-c"),
    "us-west1": ("us-west1-a", "us-west1-b", "us-west1-c"),
    "europe-west4": ("europe-west4-a", "europe-west4-b", "europe-west4-c"),
}


@dataclass(frozen=True)
class DriverRelease:
    """The NVIDIA driver GKE installs for one `gpu_driver_version` setting."""

    driver: str
    cuda: tuple[int, int]
    """The newest CUDA the driver runs."""


# Source: GKE_DRIVERS_SOURCE ("driver versions per GKE version"), as of TABLE_DATE:
# minimum GKE minor version -> setting -> driver (COS node images).
GKE_DRIVERS: dict[tuple[int, int], dict[str, DriverRelease]] = {
    (1, 30): {"DEFAULT": DriverRelease("R535", (12, 2)), "LATEST": DriverRelease("R550", (12, 4))},
    (1, 32): {"DEFAULT": DriverRelease("R535", (12, 2)), "LATEST": DriverRelease("R570", (12, 8))},
}


def driver_for(gke_minor: tuple[int, int], setting: str) -> DriverRelease | None:
    """The driver GKE `gke_minor` installs for `setting`; None before the table starts."""
    rows = [v for v in sorted(GKE_DRIVERS) if v <= gke_minor]
    return GKE_DRIVERS[rows[-1]][setting] if rows else None


def gpus_per_node(accelerator: str, machine_type: str, gpu_count: int) -> int:
    """GPUs one node of `machine_type` has (N1: the count attached, `gpu_count`)."""
    kind = GPU_KINDS[accelerator]
    fixed = kind.machine_gpus.get(machine_type, 0)
    return fixed or gpu_count


# The serving container's requests (= limits): cores and GiB, by accelerator.
POD_REQUESTS: dict[str, tuple[float, float]] = {"none": (2.0, 4.0), "gpu": (4.0, 16.0)}

MACHINES_SOURCE = "https://cloud.google.com/compute/docs/machine-resource"
# GiB of memory per vCPU of the predefined shapes (MACHINES_SOURCE, as of TABLE_DATE).
MEMORY_PER_VCPU: dict[str, dict[str, float]] = {
    "n1": {"standard": 3.75, "highmem": 6.5, "highcpu": 0.9},
    "g2": {"standard": 4.0},
    **{
        family: {"standard": 4.0, "highmem": 8.0, "highcpu": 1.0}
        for family in ("e2", "n2", "n2d", "n4", "c3", "c3d", "c4", "c4d")
    },
}
# Accelerator-optimized A2/A3 shapes: (vCPUs, GiB) (GPU_MACHINES_SOURCE).
FIXED_SHAPES: dict[str, tuple[int, float]] = {
    "a2-highgpu-1g": (12, 85),
    "a2-highgpu-2g": (24, 170),
    "a2-highgpu-4g": (48, 340),
    "a2-highgpu-8g": (96, 680),
    "a2-megagpu-16g": (96, 1360),
    "a3-highgpu-1g": (26, 234),
    "a3-highgpu-2g": (52, 468),
    "a3-highgpu-4g": (104, 936),
    "a3-highgpu-8g": (208, 1872),
}
ALLOCATABLE_SOURCE = (
    "https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes"
    "#memory_and_cpu_reservations"
)
DAEMONSET_ALLOWANCE = (0.5, 1.0)
"""Cores and GiB GKE's own DaemonSets take on a node (logging, metadata server, managed
Prometheus, Dataplane V2, the NVIDIA device plugin): an estimate kept on the safe side."""


def machine_shape(machine_type: str) -> tuple[int, float] | None:
    """(vCPUs, GiB) of a predefined machine type; None for shapes not in the tables."""
    if machine_type in FIXED_SHAPES:
        return FIXED_SHAPES[machine_type]
    parts = machine_type.split("-")
    if len(parts) != 3 or not parts[2].isdigit():
        return None
    per_vcpu = MEMORY_PER_VCPU.get(parts[0], {}).get(parts[1])
    if per_vcpu is None:
        return None
    vcpus = int(parts[2])
    return vcpus, vcpus * per_vcpu


def _tiered(total: float, tiers: tuple[tuple[float, float], ...], rest: float) -> float:
    reserved, start = 0.0, 0.0
    for end, share in tiers:
        reserved += max(0.0, min(total, end) - start) * share
        start = end
    return reserved + max(0.0, total - start) * rest


def allocatable(vcpus: int, gib: float) -> tuple[float, float]:
    """What pods may request on a node of this shape (ALLOCATABLE_SOURCE), less the
    DaemonSet allowance: cores and GiB."""
    cpu = vcpus - _tiered(vcpus, ((1, 0.06), (2, 0.01), (4, 0.005)), 0.0025)
    memory = gib - _tiered(gib, ((4, 0.25), (8, 0.20), (16, 0.10), (128, 0.06)), 0.02) - 0.1
    return cpu - DAEMONSET_ALLOWANCE[0], memory - DAEMONSET_ALLOWANCE[1]
