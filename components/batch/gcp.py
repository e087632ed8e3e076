"""GKE for `inferstack score --stack`: a Kubernetes Job on the stack's spot pool.

The Job (components/gcp/batch_job.py) runs the image and service account of the stack's
stable Deployment, read from the cluster, so it scores with exactly what the stack
serves. The Kubernetes API is reached with the official client and the current
kubeconfig context (`gcloud container clusters get-credentials` for the stack's
cluster); the caller needs create/get/delete on Jobs and list on Deployments in the
stack's namespace.

- submit: creates the Job (one pod per shard: JobRequest.instance_count, default 1).
- status: the Job's counts (succeeded, failed, active pods of its completions) and,
  when it failed, the reason and message of its Failed condition.
- stop: deletes the Job with foreground propagation (its pods go first).
"""

from __future__ import annotations

import math
import os
from datetime import UTC, datetime
from typing import Any

from inferstack.components.batch.seam import (
    BatchJobError,
    BatchStack,
    JobRequest,
    JobState,
    JobStatus,
)
from inferstack.components.gcp.batch_job import (
    BatchJob,
    BatchJobSpecError,
    GcsFolder,
    batch_job,
    job_name,
)
from inferstack.components.gcp.naming import K8S_LABEL, fit
from inferstack.components.gcp.rules import gcp_options, pod_requests

STABLE = "inferstack.dev/track=stable"


def _kubernetes() -> Any:
    try:
        import kubernetes
    except ModuleNotFoundError as err:
        raise BatchJobError(
            "GKE batch jobs need the Kubernetes client: pip install 'kubernetes>=31,<37'"
        ) from err
    return kubernetes


class GkeBatch:
    """The stack's namespace on its GKE cluster as a `TargetBatch`."""

    target = "gcp"

    def __init__(self, stack: BatchStack, *, api_client: Any = None) -> None:
        if stack.spec.target != "gcp":
            raise BatchJobError(f"stack {stack.name} is not a GKE stack")
        self.stack = stack
        spec = stack.spec
        self.namespace = fit(K8S_LABEL, f"{spec.model.name}-{stack.name}")
        kubernetes = _kubernetes()
        if api_client is None:
            try:
                # KUBECONFIG as it is now (the client reads it once, at import).
                kubernetes.config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
            except Exception as err:  # the client raises several kinds for a bad config
                raise BatchJobError(
                    f"no Kubernetes context for stack {stack.name}: run `gcloud container "
                    f"clusters get-credentials` for its cluster first ({err})"
                ) from err
            api_client = kubernetes.client.ApiClient()
        self._errors = kubernetes.client.exceptions.ApiException
        self.batch = kubernetes.client.BatchV1Api(api_client)
        self.apps = kubernetes.client.AppsV1Api(api_client)
        self.client = kubernetes.client
        self._stopped: set[str] = set()

    def _serving(self) -> tuple[str, str]:
        """The image and service account of the stack's stable Deployment."""
        selector = f"app.kubernetes.io/name={self.stack.spec.model.name},{STABLE}"
        try:
            found = self.apps.list_namespaced_deployment(self.namespace, label_selector=selector)
        except self._errors as err:
            raise BatchJobError(
                f"cannot read the Deployments of namespace {self.namespace}: {err.status} "
                f"{err.reason}"
            ) from err
        for deployment in found.items:
            pod = deployment.spec.template.spec
            container = next((c for c in pod.containers if c.name == "runtime"), None)
            if container is not None:
                return container.image, pod.service_account_name
        raise BatchJobError(
            f"stack {self.stack.name}: no serving Deployment in namespace {self.namespace} "
            "(deploy the stack first; the job runs the image it serves)"
        )

    def manifest(self, request: JobRequest, stamp: str | None = None) -> dict[str, Any]:
        """The Job `request` would create."""
        spec = self.stack.spec
        if request.instance_type not in (None, spec.instance_type()):
            raise BatchJobError(
                f"instance_type {request.instance_type}: the job runs on the stack's node "
                f"pools ({spec.instance_type()}); drop --instance-type"
            )
        if not gcp_options(spec).batch_jobs:
            raise BatchJobError(
                f"stack {self.stack.name}: its image has no batch extra (pyarrow) to score "
                "files with; set targets.gcp.batch_jobs: true and run `pulumi up` (an image "
                "given in targets.gcp.image: build it with `inferstack build --extra batch`)"
            )
        image, account = self._serving()
        cpu, memory = pod_requests(spec)
        stamp = stamp or datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        try:
            return batch_job(
                BatchJob(
                    name=request.job_name or job_name(spec.model.name, stamp),
                    namespace=self.namespace,
                    model=spec.model.name,
                    version=spec.model.version,
                    environment=spec.environment,
                    image=image,
                    service_account=account,
                    input=GcsFolder.parse(request.input_uri, "input"),
                    output=GcsFolder.parse(request.output_uri, "output"),
                    cpu=f"{cpu:g}",
                    memory=f"{memory:g}Gi",
                    gpus=spec.compute.gpu_count if spec.compute.accelerator != "none" else 0,
                    shards=request.instance_count or 1,
                    workers=max(1, math.floor(cpu)),
                )
            )
        except BatchJobSpecError as err:
            raise BatchJobError(str(err)) from err

    def submit(self, request: JobRequest) -> str:
        """Create the Job; its name."""
        manifest = self.manifest(request)
        try:
            self.batch.create_namespaced_job(self.namespace, manifest)
        except self._errors as err:
            raise BatchJobError(
                f"creating Job {manifest['metadata']['name']}: {err.status} {err.reason}: "
                f"{err.body}"
            ) from err
        return str(manifest["metadata"]["name"])

    def status(self, job_id: str) -> JobStatus:
        """The Job's state from its status subresource."""
        try:
            job = self.batch.read_namespaced_job_status(job_id, self.namespace)
        except self._errors as err:
            if err.status == 404 and job_id in self._stopped:
                return JobStatus(job_id=job_id, state="stopped", message="deleted")
            raise BatchJobError(
                f"Job {job_id} in namespace {self.namespace}: {err.status} {err.reason}"
            ) from err
        status = job.status
        total = job.spec.completions or 1
        counts = {
            "active": status.active or 0,
            "succeeded": status.succeeded or 0,
            "failed": status.failed or 0,
            "completed_indexes": status.completed_indexes or "",
            "failed_indexes": status.failed_indexes or "",
        }
        state, message = self._state(job, counts)
        return JobStatus(
            job_id=job_id,
            state=state,
            message=message,
            done=counts["succeeded"],
            total=total,
            details=counts,
        )

    @staticmethod
    def _state(job: Any, counts: dict[str, Any]) -> tuple[JobState, str]:
        conditions = {c.type: c for c in job.status.conditions or [] if c.status == "True"}
        if job.metadata.deletion_timestamp:
            return "stopped", "deleting (its pods first)"
        if "Complete" in conditions:
            return "succeeded", "complete"
        for kind in ("Failed", "FailureTarget"):
            if kind in conditions:
                failed = conditions[kind]
                return "failed", f"{failed.reason}: {failed.message}"
        if counts["active"]:
            return "running", f"{counts['active']} pod(s) running"
        return "pending", "waiting for pods (a spot node may be starting)"

    def stop(self, job_id: str) -> None:
        """Delete the Job, its pods first (foreground propagation)."""
        options = self.client.V1DeleteOptions(propagation_policy="Foreground")
        try:
            self.batch.delete_namespaced_job(job_id, self.namespace, body=options)
        except self._errors as err:
            raise BatchJobError(f"deleting Job {job_id}: {err.status} {err.reason}") from err
        self._stopped.add(job_id)


def for_stack(stack: BatchStack) -> GkeBatch:
    """The seam's entry point (`batch_for`)."""
    return GkeBatch(stack)
