"""Azure ML batch endpoints for `inferstack score --stack`: invoke, follow, cancel.

The stack's batch endpoint (`targets.azure.batch`, components/azure/batch.py) is found by
its fixed name in the stack's workspace: `workspace_id` when the stack deploys into an
existing one, else the workspace in the stack's resource group whose name starts with the
stack's prefix (the created workspace's name ends with random characters).

- submit: the endpoint's scoring URI (ARM, batchEndpoints GET) is POSTed a job with one
  input (an `azureml://` datastore path or an `https://` blob URL; a folder when it ends
  with `/`, else a file) and the output folder, with a Microsoft Entra token for
  `https://ml.azure.com` (batch endpoints take no keys) and the deployment named in
  `azureml-model-deployment`, as azure-ai-ml's `batch_endpoints.invoke` sends it.
- status: the workspace's job (ARM, jobs GET): its status, and its studio page, where the
  batch driver's logs (user_logs/, job_result.txt) say why a job failed.
- stop: the job's cancel action (ARM, POST .../jobs/<name>/cancel).
The caller's identity needs AzureML Data Scientist (or the batch endpoint's invoke and
the jobs' read/cancel actions) on the workspace, and read access to the input data.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any

import yaml

from inferstack.components.azure.arm import (
    ARM,
    ARM_SCOPE,
    AzureRequestError,
    TokenCredential,
    arm_json,
    default_credential,
    request,
)
from inferstack.components.azure.batch_naming import BatchNames, batch_names
from inferstack.components.azure.batch_rules import batch_instance_type, batch_options
from inferstack.components.azure.context import names_for
from inferstack.components.azure.rules import azure_options
from inferstack.components.batch.seam import (
    BatchJobError,
    BatchStack,
    JobRequest,
    JobState,
    JobStatus,
)
from inferstack.components.spec.config import PROJECT_FILE

API_VERSION = "2024-04-01"
ML_SCOPE = "https://ml.azure.com/.default"
"""The audience of batch endpoint invocations."""
DEPLOYMENT_HEADER = "azureml-model-deployment"
STATES: dict[str, JobState] = {
    "NotStarted": "pending",
    "Queued": "pending",
    "Preparing": "pending",
    "Provisioning": "pending",
    "Starting": "pending",
    "Running": "running",
    "Finalizing": "running",
    "CancelRequested": "running",
    "Completed": "succeeded",
    "Failed": "failed",
    "NotResponding": "failed",
    "Canceled": "stopped",
}
_URI = re.compile(r"^(azureml://|https://)\S+$")
_SUBSCRIPTION_KEYS = ("azure-native:subscriptionId", "AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID")


def data_reference(uri: str, field: str) -> dict[str, str]:
    """An input or output of the job: a folder when `uri` ends with '/', else a file."""
    if not _URI.match(uri):
        raise BatchJobError(
            f"{field} {uri!r}: Azure ML batch jobs read and write azureml:// datastore paths "
            "or https:// blob URLs (e.g. azureml://datastores/workspaceblobstore/paths/in/)"
        )
    kind = "UriFolder" if uri.endswith("/") else "UriFile"
    return {"JobInputType" if field == "input" else "JobOutputType": kind, "Uri": uri}


def _project(stack: BatchStack) -> str:
    data = yaml.safe_load((stack.root / PROJECT_FILE).read_text()) or {}
    return str(data.get("name") or stack.root.name)


class AzureBatch:
    """The stack's batch endpoint as a `TargetBatch`."""

    target = "azure"

    def __init__(
        self,
        stack: BatchStack,
        *,
        credential: TokenCredential | None = None,
        arm: str = ARM,
        env: Mapping[str, str] | None = None,
    ) -> None:
        if stack.spec.target != "azure":
            raise BatchJobError(f"stack {stack.name} is not an Azure stack")
        if not batch_options(stack.spec).enabled:
            raise BatchJobError(
                f"stack {stack.name} has no batch endpoint: set targets.azure.batch.enabled: "
                "true and deploy it (pulumi up) first"
            )
        self.stack = stack
        self.arm = arm.rstrip("/")
        self.env = os.environ if env is None else env
        self._credential = credential
        self.names: BatchNames = batch_names(stack.spec.model.name, _project(stack), stack.name)
        self._workspace_url: str | None = None

    @property
    def credential(self) -> TokenCredential:
        if self._credential is None:
            self._credential = default_credential(self.env)
        return self._credential

    def _url(self, path: str) -> str:
        return f"{self.arm}{path}?api-version={API_VERSION}"

    def _subscription(self) -> str:
        for key in _SUBSCRIPTION_KEYS:
            value = self.stack.config.get(key) or self.env.get(key)
            if value:
                return str(value)
        raise BatchJobError(
            f"stack {self.stack.name}: no Azure subscription; set azure-native:subscriptionId "
            "in the stack's config or AZURE_SUBSCRIPTION_ID"
        )

    def workspace_url(self) -> str:
        """The ARM path of the stack's workspace (looked up once)."""
        if self._workspace_url is None:
            self._workspace_url = self._find_workspace()
        return self._workspace_url

    def _find_workspace(self) -> str:
        workspace_id = azure_options(self.stack.spec).workspace_id
        if workspace_id:
            return workspace_id
        names = names_for(self.stack.spec, _project(self.stack), self.stack.name)
        group = (
            f"/subscriptions/{self._subscription()}/resourceGroups/{names.resource_group}"
            "/providers/Microsoft.MachineLearningServices/workspaces"
        )
        try:
            found = arm_json(self.credential, "GET", self._url(group))
        except AzureRequestError as err:
            raise BatchJobError(
                f"stack {self.stack.name}: cannot list the workspaces of resource group "
                f"{names.resource_group} (deployed?): {err}"
            ) from err
        ours = [
            w["id"]
            for w in found.get("value", [])
            if str(w.get("name", "")).startswith(names.workspace_prefix + "-")
        ]
        if len(ours) != 1:
            raise BatchJobError(
                f"stack {self.stack.name}: expected one workspace named {names.workspace_prefix}-"
                f"... in resource group {names.resource_group}, found {len(ours)}"
            )
        return str(ours[0])

    def submit(self, request_: JobRequest) -> str:
        """Invoke the batch endpoint on the request's input; the job's name."""
        body: dict[str, Any] = {
            "properties": {
                "InputData": {"input": data_reference(request_.input_uri, "input")},
                "OutputData": {"score": data_reference(request_.output_uri, "output")},
            }
        }
        size = batch_instance_type(self.stack.spec)
        if request_.instance_type not in (None, size):
            raise BatchJobError(
                f"instance_type {request_.instance_type}: the batch cluster runs {size}; "
                "change targets.azure.batch.instance_type and deploy"
            )
        if request_.job_name is not None:
            raise BatchJobError("job_name: Azure ML names batch jobs itself; drop --job-name")
        count = batch_options(self.stack.spec).instance_count
        if request_.instance_count not in (None, count):
            raise BatchJobError(
                f"instance_count {request_.instance_count}: the batch deployment runs on "
                f"{count} node(s); change targets.azure.batch.instance_count and deploy"
            )
        endpoint_path = f"{self.workspace_url()}/batchEndpoints/{self.names.endpoint}"
        try:
            endpoint = arm_json(self.credential, "GET", self._url(endpoint_path))
        except AzureRequestError as err:
            raise BatchJobError(
                f"batch endpoint {self.names.endpoint} (deployed with batch.enabled?): {err}"
            ) from err
        scoring_uri = endpoint.get("properties", {}).get("scoringUri")
        if not scoring_uri:
            raise BatchJobError(f"batch endpoint {self.names.endpoint} has no scoring URI yet")
        headers = {"Content-Type": "application/json", DEPLOYMENT_HEADER: self.names.deployment}
        try:
            _, _, data = request(
                self.credential, ML_SCOPE, "POST", scoring_uri, json.dumps(body).encode(), headers
            )
        except AzureRequestError as err:
            raise BatchJobError(f"invoking batch endpoint {self.names.endpoint}: {err}") from err
        job = json.loads(data)
        name = job.get("name") or str(job.get("id", "")).rsplit("/", 1)[-1]
        if not name:
            raise BatchJobError(f"batch endpoint {self.names.endpoint} answered no job: {job}")
        return str(name)

    def status(self, job_id: str) -> JobStatus:
        """The job's state from the workspace's jobs API."""
        try:
            job = arm_json(
                self.credential, "GET", self._url(f"{self.workspace_url()}/jobs/{job_id}")
            )
        except AzureRequestError as err:
            raise BatchJobError(f"batch job {job_id}: {err}") from err
        props = job.get("properties", {})
        raw = str(props.get("status", "Unknown"))
        state = STATES.get(raw, "pending")
        studio = str(props.get("services", {}).get("Studio", {}).get("endpoint") or "")
        message = raw
        if state == "failed":
            message = (
                f"Azure ML reports the job {raw}; the batch driver's logs (user_logs/, "
                f"job_result.txt) say why: {studio or 'the job in Azure ML studio'}"
            )
        output = props.get("outputs", {}).get("score", {}).get("uri", "")
        return JobStatus(
            job_id=job_id,
            state=state,
            message=message,
            output_uri=str(output),
            console_url=studio,
            details={"status": raw},
        )

    def stop(self, job_id: str) -> None:
        """Cancel the job (Azure ML stops its mini-batches and scales the cluster down)."""
        path = f"{self.workspace_url()}/jobs/{job_id}/cancel"
        try:
            request(self.credential, ARM_SCOPE, "POST", self._url(path), b"", {})
        except AzureRequestError as err:
            raise BatchJobError(f"cancelling batch job {job_id}: {err}") from err


def for_stack(stack: BatchStack) -> AzureBatch:
    """The seam's entry point (`batch_for`)."""
    return AzureBatch(stack)
