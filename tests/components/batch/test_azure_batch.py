"""`score --stack` on Azure against a real HTTP server on 127.0.0.1 that answers the few
Azure routes the runner calls (workspaces of the resource group, the batch endpoint, its
scoring URI, the job, its cancel action), with the tokens each call must carry."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from inferstack.components.azure.batch_naming import batch_names
from inferstack.components.azure.context import names_for
from inferstack.components.batch.azure import API_VERSION, AzureBatch
from inferstack.components.batch.seam import (
    BatchJobError,
    BatchStack,
    JobRequest,
    batch_for,
    follow,
)
from inferstack.components.spec.models import DeploymentSpec

SUB = "00000000-0000-0000-0000-000000000000"
REGISTRY = (
    f"/subscriptions/{SUB}/resourceGroups/ml/providers/Microsoft.ContainerRegistry/registries/mlacr"
)
WORKSPACES = "providers/Microsoft.MachineLearningServices/workspaces"
INPUT = "azureml://datastores/workspaceblobstore/paths/batch/in/"
OUTPUT = "azureml://datastores/workspaceblobstore/paths/batch/out/"
TOKENS = {
    "https://management.azure.com/.default": "arm-token",
    "https://ml.azure.com/.default": "ml-token",
}


def azure_spec(**batch: Any) -> DeploymentSpec:
    return DeploymentSpec.model_validate(
        {
            "target": "azure",
            "environment": "dev",
            "region": "eastus",
            "model": {"name": "churn", "version": "1.0.0", "framework": "sklearn", "artifact": "b"},
            "compute": {"accelerator": "none"},
            "observability": {"notify_emails": ["ml@example.com"]},
            "targets": {
                "azure": {
                    "image_uri": "mlacr.azurecr.io/churn:1.0.0",
                    "image_registry_id": REGISTRY,
                    "batch": {"enabled": True, **batch},
                }
            },
        }
    )


@dataclass
class Token:
    token: str


class Credential:
    def get_token(self, *scopes: str) -> Token:
        (scope,) = scopes
        return Token(TOKENS[scope])


@dataclass
class FakeAzure:
    """What the server saw and the state of its jobs."""

    base: str = ""
    workspace: str = ""
    endpoint: str = ""
    calls: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    jobs: dict[str, list[str]] = field(default_factory=dict)
    """Statuses each job goes through, one per status read."""
    canceled: list[str] = field(default_factory=list)


def handler(fake: FakeAzure) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any] | None = None) -> None:
            data = json.dumps(body or {}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> tuple[str, dict[str, Any]]:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if length else {}
            path, _, query = self.path.partition("?")
            fake.calls.append((self.command, path, self.headers["Authorization"], body))
            if path.startswith("/subscriptions/") and query != f"api-version={API_VERSION}":
                self._answer(400, {"error": {"message": f"bad query {query}"}})
                return "", {}
            return path, body

        def do_GET(self) -> None:
            path, _ = self._record()
            group = f"/subscriptions/{SUB}/resourceGroups/rg-churn-dev-azure/{WORKSPACES}"
            if self.headers["Authorization"] != "Bearer arm-token":
                self._answer(401)
            elif path == group:
                other = {"id": f"{group}/other-ws", "name": "other-ws"}
                self._answer(
                    200,
                    {
                        "value": [
                            other,
                            {"id": fake.workspace, "name": fake.workspace.rsplit("/", 1)[-1]},
                        ]
                    },
                )
            elif path == f"{fake.workspace}/batchEndpoints/{fake.endpoint}":
                scoring = f"{fake.base}/inference/{fake.endpoint}/jobs"
                self._answer(200, {"properties": {"scoringUri": scoring, "authMode": "AADToken"}})
            elif path.startswith(f"{fake.workspace}/jobs/"):
                name = path.rsplit("/", 1)[-1]
                states = fake.jobs.get(name)
                if states is None:
                    self._answer(404, {"error": {"code": "UserError", "message": "job not found"}})
                    return
                status = states.pop(0) if len(states) > 1 else states[0]
                props = {
                    "status": status,
                    "services": {"Studio": {"endpoint": f"https://ml.azure.com/runs/{name}"}},
                    "outputs": {"score": {"uri": OUTPUT, "jobOutputType": "uri_folder"}},
                }
                self._answer(200, {"name": name, "properties": props})
            else:
                self._answer(404, {"error": {"message": path}})

        def do_POST(self) -> None:
            path, body = self._record()
            if path == f"/inference/{fake.endpoint}/jobs":
                if self.headers["Authorization"] != "Bearer ml-token":
                    self._answer(401)
                    return
                assert self.headers["azureml-model-deployment"] == "score"
                inputs = body["properties"]["InputData"]["input"]
                name = "job-fail" if inputs["Uri"].endswith("/broken/") else f"job-{len(fake.jobs)}"
                if name == "job-fail":
                    fake.jobs[name] = ["Queued", "Running", "Failed"]
                else:
                    fake.jobs[name] = ["Queued", "Preparing", "Running", "Running", "Completed"]
                self._answer(200, {"name": name, "id": f"{fake.workspace}/jobs/{name}"})
            elif path.startswith(f"{fake.workspace}/jobs/") and path.endswith("/cancel"):
                name = path.split("/")[-2]
                fake.canceled.append(name)
                fake.jobs[name] = ["CancelRequested", "Canceled"]
                self._answer(202)
            else:
                self._answer(404)

    return Handler


@pytest.fixture
def azure(tmp_path: Path) -> Iterator[tuple[FakeAzure, AzureBatch]]:
    fake = FakeAzure()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(fake))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        fake.base = f"http://127.0.0.1:{server.server_address[1]}"
        (tmp_path / "Pulumi.yaml").write_text("name: inferstack\n")
        spec = azure_spec()
        stack = BatchStack("dev-azure", tmp_path, spec, {"azure-native:subscriptionId": SUB})
        prefix = names_for(spec, "inferstack", "dev-azure").workspace_prefix
        fake.workspace = (
            f"/subscriptions/{SUB}/resourceGroups/rg-churn-dev-azure/{WORKSPACES}/{prefix}-a1b2c3"
        )
        fake.endpoint = batch_names("churn", "inferstack", "dev-azure").endpoint
        yield fake, AzureBatch(stack, credential=Credential(), arm=fake.base, env={})
    finally:
        server.shutdown()
        server.server_close()


def test_submit_and_follow_to_success(azure: tuple[FakeAzure, AzureBatch]) -> None:
    fake, batch = azure
    job = batch.submit(JobRequest(INPUT, OUTPUT))
    seen: list[str] = []
    final = follow(
        batch, job, poll_s=0, on_status=lambda s: seen.append(s.state), sleep=lambda _: None
    )
    assert final.state == "succeeded"
    assert final.output_uri == OUTPUT
    assert final.console_url == f"https://ml.azure.com/runs/{job}"
    assert seen == ["pending", "pending", "running", "running", "succeeded"]
    (invoke,) = [c for c in fake.calls if c[1].startswith("/inference/")]
    assert invoke[2] == "Bearer ml-token"
    assert invoke[3] == {
        "properties": {
            "InputData": {"input": {"JobInputType": "UriFolder", "Uri": INPUT}},
            "OutputData": {"score": {"JobOutputType": "UriFolder", "Uri": OUTPUT}},
        }
    }
    # The workspace is looked up once, among others in the resource group.
    assert sum(c[1].endswith("/workspaces") for c in fake.calls) == 1


def test_a_failed_job_says_where_its_reason_is(azure: tuple[FakeAzure, AzureBatch]) -> None:
    _, batch = azure
    job = batch.submit(JobRequest("azureml://datastores/workspaceblobstore/paths/broken/", OUTPUT))
    final = follow(batch, job, poll_s=0, sleep=lambda _: None)
    assert final.state == "failed"
    assert "Failed" in final.message
    assert "job_result.txt" in final.message
    assert f"https://ml.azure.com/runs/{job}" in final.message


def test_ctrl_c_cancels_the_job(azure: tuple[FakeAzure, AzureBatch]) -> None:
    fake, batch = azure
    job = batch.submit(JobRequest(INPUT, OUTPUT))

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        follow(batch, job, poll_s=1, sleep=interrupt)
    assert fake.canceled == [job]
    cancel = [c for c in fake.calls if c[1].endswith("/cancel")]
    assert cancel[0][2] == "Bearer arm-token"
    assert follow(batch, job, poll_s=0, sleep=lambda _: None).state == "stopped"


def test_an_unknown_job_is_an_error_naming_it(azure: tuple[FakeAzure, AzureBatch]) -> None:
    _, batch = azure
    with pytest.raises(BatchJobError, match="job not found"):
        batch.status("nope")


@pytest.mark.parametrize("uri", ["s3://bucket/in/", "gs://bucket/in/", "/local/in.csv", ""])
def test_inputs_outside_azure_are_refused(azure: tuple[FakeAzure, AzureBatch], uri: str) -> None:
    _, batch = azure
    with pytest.raises(BatchJobError, match="azureml://"):
        batch.submit(JobRequest(uri, OUTPUT))


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (JobRequest(INPUT, OUTPUT, instance_count=3), "instance_count"),
        (JobRequest(INPUT, OUTPUT, instance_type="Standard_F8s_v2"), "instance_type"),
        (JobRequest(INPUT, OUTPUT, job_name="mine"), "job_name"),
    ],
)
def test_what_the_deployment_fixes_is_refused(
    azure: tuple[FakeAzure, AzureBatch], request_: JobRequest, field: str
) -> None:
    fake, batch = azure
    with pytest.raises(BatchJobError, match=field):
        batch.submit(request_)
    assert not fake.calls


def test_a_stack_without_batch_is_refused(tmp_path: Path) -> None:
    spec = DeploymentSpec.model_validate(
        {
            **azure_spec().model_dump(mode="json", exclude_unset=True),
            "targets": {
                "azure": {
                    "image_uri": "mlacr.azurecr.io/churn:1.0.0",
                    "image_registry_id": REGISTRY,
                }
            },
        }
    )
    with pytest.raises(BatchJobError, match=r"batch\.enabled"):
        AzureBatch(BatchStack("dev-azure", tmp_path, spec, {}), credential=Credential())


def test_the_seam_finds_the_azure_runner(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: inferstack\n")
    stack = BatchStack("dev-azure", tmp_path, azure_spec(), {"azure-native:subscriptionId": SUB})
    runner = batch_for(stack)
    assert isinstance(runner, AzureBatch)
    assert runner.target == "azure"
