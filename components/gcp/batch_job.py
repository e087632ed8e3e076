"""The batch scoring Job of a GKE stack, as a plain Kubernetes manifest (a dict).

`inferstack score --stack` creates it (components/batch/gcp.py); tests render and
validate it like the serving objects. Nothing here imports Pulumi or a Kubernetes client.

- It runs `python -m inferstack.runtime.batch_job` (runtime/batch_job.py) in the image
  the stack serves, so rows are scored as `inferstack score` scores them.
- Data: the input and output are Cloud Storage folders mounted with the Cloud Storage
  FUSE CSI driver (ephemeral `csi` volumes, which the restricted Pod Security profile
  admits): nothing in the image talks to Cloud Storage, and a retried pod finds the
  chunks its predecessor finished. The driver authenticates as the pod's Kubernetes
  service account through Workload Identity: the stack's runtime account, whose Google
  service account needs read on the input bucket and write on the output's.
- Network: the pods carry the stack's `app.kubernetes.io/name` label, so the stack's
  NetworkPolicy (ingress only from the load balancer and managed Prometheus, to the
  serving port) covers them too; they serve nothing.
- Capacity: the stack's own node pools only, spot preferred (the same labels and taints
  as the serving Deployments); a preempted pod fails with a DisruptionTarget condition,
  which the pod failure policy ignores, so preemption never uses up the retries.
- Indexed completions: `shards` pods each score every shards-th input file; each index
  is retried on its own (backoffLimitPerIndex) and a pod that exits 2 (bad input or
  bundle: a retry cannot help) fails its index at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from inferstack.components.gcp.naming import NameRule, fit
from inferstack.components.gcp.workloads import (
    CAPACITY_LABEL,
    DEPLOYMENT_LABEL,
    GPU_TAINT,
    SPOT_TAINT,
    Manifest,
    restricted_container,
    restricted_pod,
)
from inferstack.runtime.contract import Env

GCSFUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
GCSFUSE_ANNOTATION = "gke-gcsfuse/volumes"
INPUT_MOUNT = "/data/input"
OUTPUT_MOUNT = "/data/output"
USAGE_EXIT = 2
"""runtime/batch_job.py's exit code for bad input or a broken bundle."""
MAX_SHARDS = 100
JOB_NAME = NameRule(
    "Kubernetes Job name (an Indexed Job's pod host names are <name>-<index>, 63 at most)",
    52,
    r"[a-z]([-a-z0-9]*[a-z0-9])?",
    "https://kubernetes.io/docs/concepts/workloads/controllers/job/#completion-mode",
)
_GS = re.compile(r"^gs://([a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(/.*)?$")


class BatchJobSpecError(ValueError):
    """A batch job argument the Job could not run with (named in the message)."""


@dataclass(frozen=True)
class GcsFolder:
    """A Cloud Storage folder: bucket and prefix (no leading or trailing '/')."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str, field: str) -> GcsFolder:
        """`gs://bucket/prefix/` as a folder; anything else is refused naming `field`."""
        match = _GS.match(uri)
        if not match:
            raise BatchJobSpecError(
                f"{field} {uri!r}: a GKE batch job reads and writes Cloud Storage folders, "
                "gs://<bucket>/<folder>/"
            )
        return cls(match.group(1), (match.group(2) or "").strip("/"))

    def volume(self, name: str, read_only: bool) -> dict[str, Any]:
        """An ephemeral gcsfuse CSI volume of this folder (only-dir: the prefix alone)."""
        options = ["implicit-dirs"] + ([f"only-dir={self.prefix}"] if self.prefix else [])
        return {
            "name": name,
            "csi": {
                "driver": GCSFUSE_DRIVER,
                "readOnly": read_only,
                "volumeAttributes": {"bucketName": self.bucket, "mountOptions": ",".join(options)},
            },
        }


@dataclass(frozen=True)
class BatchJob:
    """One batch scoring Job of a stack."""

    name: str
    namespace: str
    model: str
    version: str
    environment: str
    image: str
    service_account: str
    """The stack's runtime Kubernetes service account (Workload Identity)."""
    input: GcsFolder
    output: GcsFolder
    cpu: str
    memory: str
    gpus: int
    shards: int = 1
    workers: int = 1
    """Scoring processes per pod (its CPU request, whole cores)."""
    deadline_s: int = 6 * 3600
    ttl_s: int = 3 * 86400
    retries_per_shard: int = 3


def check(job: BatchJob) -> None:
    """Refuse a Job Kubernetes or the runner could not run, naming the field."""
    if JOB_NAME.problems(job.name):
        raise BatchJobSpecError(f"job name {job.name!r}: {'; '.join(JOB_NAME.problems(job.name))}")
    if not 1 <= job.shards <= MAX_SHARDS:
        raise BatchJobSpecError(f"instance_count {job.shards}: use 1 to {MAX_SHARDS} pods")
    inside = job.output.prefix == job.input.prefix or job.output.prefix.startswith(
        f"{job.input.prefix}/" if job.input.prefix else ""
    )
    if job.input.bucket == job.output.bucket and inside:
        raise BatchJobSpecError(
            f"output gs://{job.output.bucket}/{job.output.prefix}/ lies inside the input "
            "folder (the job would read its own results); write it elsewhere"
        )


def job_name(model: str, stamp: str) -> str:
    """A Job name from the model and a time stamp, fitted to JOB_NAME."""
    return fit(JOB_NAME, model, "score", stamp)


def _affinity(namespace: str) -> dict[str, Any]:
    ours = {"key": CAPACITY_LABEL, "operator": "In", "values": ["spot", "on-demand"]}
    stack = {"key": DEPLOYMENT_LABEL, "operator": "In", "values": [namespace]}
    spot = {"key": CAPACITY_LABEL, "operator": "In", "values": ["spot"]}
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [ours, stack]}]
            },
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 100, "preference": {"matchExpressions": [spot]}}
            ],
        }
    }


def _container(job: BatchJob) -> dict[str, Any]:
    limits = {"cpu": job.cpu, "memory": job.memory}
    if job.gpus:
        limits["nvidia.com/gpu"] = str(job.gpus)
    command = ["python", "-m", "inferstack.runtime.batch_job", INPUT_MOUNT, OUTPUT_MOUNT]
    command += ["--shards", str(job.shards), "--workers", str(job.workers)]
    return {
        "name": "score",
        "image": job.image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "env": [
            {"name": Env.MODEL_NAME, "value": job.model},
            {"name": Env.MODEL_VERSION, "value": job.version},
            {"name": Env.ENVIRONMENT, "value": job.environment},
        ],
        "resources": {"requests": dict(limits), "limits": limits},
        "securityContext": restricted_container(),
        "volumeMounts": [
            {"name": "input", "mountPath": INPUT_MOUNT, "readOnly": True},
            {"name": "output", "mountPath": OUTPUT_MOUNT},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 (read-only root)
        ],
    }


def batch_job(job: BatchJob) -> Manifest:
    """The Job manifest of `job` (checked first)."""
    check(job)
    labels = {
        "app.kubernetes.io/name": job.model,
        "app.kubernetes.io/part-of": "inferstack",
        "app.kubernetes.io/component": "batch-scoring",
        "inferstack.dev/version": re.sub(r"[^A-Za-z0-9._-]", "-", job.version)[:63],
    }
    tolerations = [
        {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}
        for t in ([GPU_TAINT] if job.gpus else []) + [SPOT_TAINT]
    ]
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": job.service_account,
        "automountServiceAccountToken": False,
        "securityContext": restricted_pod(),
        "affinity": _affinity(job.namespace),
        "tolerations": tolerations,
        "containers": [_container(job)],
        "volumes": [
            job.input.volume("input", read_only=True),
            job.output.volume("output", read_only=False),
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        ],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job.name, "namespace": job.namespace, "labels": labels},
        "spec": {
            "completionMode": "Indexed",
            "completions": job.shards,
            "parallelism": job.shards,
            "backoffLimitPerIndex": job.retries_per_shard,
            "maxFailedIndexes": 0,
            "activeDeadlineSeconds": job.deadline_s,
            "ttlSecondsAfterFinished": job.ttl_s,
            "podFailurePolicy": {
                "rules": [
                    # Spot preemption, eviction, node drain: not the job's fault.
                    {
                        "action": "Ignore",
                        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
                    },
                    {
                        "action": "FailIndex",
                        "onExitCodes": {
                            "containerName": "score",
                            "operator": "In",
                            "values": [USAGE_EXIT],
                        },
                    },
                ]
            },
            "template": {
                "metadata": {"labels": labels, "annotations": {GCSFUSE_ANNOTATION: "true"}},
                "spec": pod,
            },
        },
    }
