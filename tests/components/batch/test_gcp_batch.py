"""`score --stack` on GKE: the runner, through the official Kubernetes client, against a
real HTTP server on 127.0.0.1 that answers the API routes it calls (the stack's
Deployments, Job create, Job status, Job delete) and validates the Job it is sent
against Kubernetes 1.33's schema; and the Job's entrypoint run for real on a bundle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes
import kubernetes_validate
import numpy as np
import pandas as pd
import pytest

from inferstack.components.batch.gcp import GkeBatch
from inferstack.components.batch.seam import (
    BatchJobError,
    BatchStack,
    JobRequest,
    batch_for,
    follow,
)
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.batch_job import output_folder
from inferstack.runtime.model import load_bundle

K8S_VERSION = "1.33.0"
IMAGE = "us-central1-docker.pkg.dev/p/churn/churn@sha256:" + "c" * 64
NAMESPACE = "churn-prod-gke"
JOBS = f"/apis/batch/v1/namespaces/{NAMESPACE}/jobs"
BUNDLE = Path(__file__).resolve().parents[3] / "examples" / "logreg-20f" / "bundle"


def gke_spec(batch_jobs: bool = True) -> DeploymentSpec:
    return DeploymentSpec.model_validate(
        {
            "target": "gcp",
            "environment": "prod",
            "region": "us-central1",
            "model": {"name": "churn", "version": "1.1.0", "framework": "sklearn", "artifact": "b"},
            "compute": {"accelerator": "nvidia-l4", "spot": True, "on_demand_base": 1},
            "scaling": {"min_replicas": 2, "max_replicas": 8, "target_metric": "gpu_utilization"},
            "targets": {
                "gcp": {
                    "project": "inferstack-prod",
                    "custom_metrics_adapter": True,
                    "batch_jobs": batch_jobs,
                }
            },
        }
    )


@dataclass
class FakeCluster:
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    statuses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    deleted: list[tuple[str, str]] = field(default_factory=list)
    selectors: list[str] = field(default_factory=list)


def _deployment(track: str, image: str) -> dict[str, Any]:
    labels = {"app.kubernetes.io/name": "churn", "inferstack.dev/track": track}
    pod = {
        "serviceAccountName": "churn-runtime",
        "containers": [{"name": "runtime", "image": image}],
    }
    return {
        "metadata": {"name": f"churn-{track}", "namespace": NAMESPACE, "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def handler(cluster: FakeCluster) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict[str, Any]:
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length)) if length else {}

        def _not_found(self, name: str) -> None:
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "status": "Failure",
                "reason": "NotFound",
                "code": 404,
            }
            self._answer(404, {**status, "message": f'jobs.batch "{name}" not found'})

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments":
                selector = parse_qs(url.query)["labelSelector"][0]
                cluster.selectors.append(selector)
                items = [_deployment("stable", IMAGE)] if "track=stable" in selector else []
                self._answer(
                    200,
                    {
                        "kind": "DeploymentList",
                        "apiVersion": "apps/v1",
                        "metadata": {},
                        "items": items,
                    },
                )
            elif url.path.startswith(JOBS + "/") and url.path.endswith("/status"):
                name = url.path.split("/")[-2]
                if name not in cluster.jobs:
                    self._not_found(name)
                    return
                states = cluster.statuses[name]
                status = states.pop(0) if len(states) > 1 else states[0]
                self._answer(200, {**cluster.jobs[name], "status": status})
            else:
                self._answer(404, {"kind": "Status", "code": 404, "message": url.path})

        def do_POST(self) -> None:
            body = self._body()
            if self.path != JOBS:
                self._answer(404, {"kind": "Status", "code": 404})
                return
            try:
                kubernetes_validate.validate(body, K8S_VERSION, strict=True)
            except kubernetes_validate.ValidationError as err:
                self._answer(422, {"kind": "Status", "code": 422, "message": str(err)[:300]})
                return
            name = body["metadata"]["name"]
            cluster.jobs[name] = body
            completions = body["spec"]["completions"]
            if (
                "broken"
                in body["spec"]["template"]["spec"]["volumes"][0]["csi"]["volumeAttributes"][
                    "mountOptions"
                ]
            ):
                failed = {
                    "type": "Failed",
                    "status": "True",
                    "reason": "FailedIndexes",
                    "message": "Job has failed indexes",
                }
                cluster.statuses[name] = [
                    {"active": 1},
                    {"failed": 1, "failedIndexes": "0", "conditions": [failed]},
                ]
            else:
                complete = {"type": "Complete", "status": "True", "reason": "CompletionsReached"}
                cluster.statuses[name] = [
                    {},
                    {"active": completions},
                    {"active": 1, "succeeded": completions - 1, "completedIndexes": "0-1"},
                    {"succeeded": completions, "completedIndexes": "0-2", "conditions": [complete]},
                ]
            self._answer(201, body)

        def do_DELETE(self) -> None:
            name = urlsplit(self.path).path.rsplit("/", 1)[-1]
            body = self._body()
            if name not in cluster.jobs:
                self._not_found(name)
                return
            cluster.deleted.append((name, body.get("propagationPolicy", "")))
            del cluster.jobs[name]
            self._answer(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

    return Handler


@pytest.fixture
def gke(tmp_path: Path) -> Iterator[tuple[FakeCluster, GkeBatch]]:
    cluster = FakeCluster()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(cluster))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        configuration = kubernetes.client.Configuration()
        configuration.host = f"http://127.0.0.1:{server.server_address[1]}"
        api = kubernetes.client.ApiClient(configuration)
        stack = BatchStack("prod-gke", tmp_path, gke_spec(), {})
        yield cluster, GkeBatch(stack, api_client=api)
        api.close()
    finally:
        server.shutdown()
        server.server_close()


def test_submit_creates_the_job_with_the_served_image_and_follows_it(
    gke: tuple[FakeCluster, GkeBatch],
) -> None:
    cluster, batch = gke
    job = batch.submit(
        JobRequest("gs://churn-data/in/", "gs://churn-results/out/", instance_count=3)
    )
    created = cluster.jobs[job]
    pod = created["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == IMAGE
    assert pod["serviceAccountName"] == "churn-runtime"
    assert created["metadata"]["namespace"] == NAMESPACE
    assert created["spec"]["completions"] == 3
    assert cluster.selectors == ["app.kubernetes.io/name=churn,inferstack.dev/track=stable"]
    seen: list[tuple[str, int | None]] = []
    final = follow(
        batch,
        job,
        poll_s=0,
        on_status=lambda s: seen.append((s.state, s.done)),
        sleep=lambda _: None,
    )
    assert final.state == "succeeded"
    assert (final.done, final.total) == (3, 3)
    assert seen == [("pending", 0), ("running", 0), ("running", 2), ("succeeded", 3)]


def test_a_failed_job_reports_its_condition(gke: tuple[FakeCluster, GkeBatch]) -> None:
    _, batch = gke
    job = batch.submit(JobRequest("gs://churn-data/broken/", "gs://churn-results/out/"))
    final = follow(batch, job, poll_s=0, sleep=lambda _: None)
    assert final.state == "failed"
    assert final.message == "FailedIndexes: Job has failed indexes"
    assert final.details["failed_indexes"] == "0"


def test_ctrl_c_deletes_the_job_foreground(gke: tuple[FakeCluster, GkeBatch]) -> None:
    cluster, batch = gke
    job = batch.submit(JobRequest("gs://churn-data/in/", "gs://churn-results/out/"))

    def interrupt(_: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        follow(batch, job, poll_s=1, sleep=interrupt)
    assert cluster.deleted == [(job, "Foreground")]
    assert batch.status(job).state == "stopped"


def test_an_unknown_job_is_an_error(gke: tuple[FakeCluster, GkeBatch]) -> None:
    _, batch = gke
    with pytest.raises(BatchJobError, match="404"):
        batch.status("nope")


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (JobRequest("s3://b/in/", "gs://churn-results/out/"), "gs://"),
        (JobRequest("gs://churn-data/in/", "gs://churn-data/in/out/"), "inside"),
        (
            JobRequest("gs://churn-data/in/", "gs://churn-results/out/", instance_count=500),
            "instance_count",
        ),
        (
            JobRequest("gs://churn-data/in/", "gs://churn-results/out/", instance_type="n1-x"),
            "instance_type",
        ),
    ],
)
def test_bad_requests_are_refused_before_the_api(
    gke: tuple[FakeCluster, GkeBatch], request_: JobRequest, message: str
) -> None:
    cluster, batch = gke
    with pytest.raises(BatchJobError, match=message):
        batch.submit(request_)
    assert not cluster.jobs


def test_the_jobs_entrypoint_scores_its_shard_like_the_model_in_process(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    columns = [f"f{i}" for i in range(20)]
    inputs = tmp_path / "in"
    inputs.mkdir()
    frames = {}
    for n in range(3):
        frame = pd.DataFrame(rng.normal(size=(60 + n, 20)), columns=columns)
        frame.to_csv(inputs / f"part-{n}.csv", index=False)
        frames[f"part-{n}.csv"] = frame
    out = tmp_path / "out"
    env = {**os.environ, "INFERSTACK_BUNDLE_DIR": str(BUNDLE), "JOB_COMPLETION_INDEX": "1"}
    command = [sys.executable, "-m", "inferstack.runtime.batch_job", str(inputs), str(out)]
    done = subprocess.run(
        [*command, "--shards", "2", "--workers", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Shard 1 of 2 scores the second file in name order, and only it.
    folder = output_folder(out, str(inputs / "part-1.csv"))
    assert sorted(p.name for p in out.iterdir()) == [folder.name]
    got = pd.concat(pd.read_csv(p) for p in sorted(folder.glob("part-*.csv")))
    expected = np.asarray(load_bundle(BUNDLE).run(frames["part-1.csv"].to_numpy()))
    np.testing.assert_allclose(got[["0", "1"]].to_numpy(), expected, rtol=1e-12)
    bad = subprocess.run(
        [*command, "--shards", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert bad.returncode == 2
    assert "--shards" in bad.stderr


def test_the_seam_finds_the_gke_runner_with_the_kubeconfig_context(
    gke: tuple[FakeCluster, GkeBatch], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, served = gke
    host = served.batch.api_client.configuration.host
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gke", "cluster": {"server": host}}],
        "users": [{"name": "me", "user": {"token": "t"}}],
        "contexts": [{"name": "gke", "context": {"cluster": "gke", "user": "me"}}],
        "current-context": "gke",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(kubeconfig))
    monkeypatch.setenv("KUBECONFIG", str(path))
    runner = batch_for(BatchStack("prod-gke", tmp_path, gke_spec(), {}))
    assert isinstance(runner, GkeBatch)
    job = runner.submit(JobRequest("gs://churn-data/in/", "gs://churn-results/out/"))
    assert runner.status(job).state == "pending"
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    with pytest.raises(BatchJobError, match="get-credentials"):
        batch_for(BatchStack("prod-gke", tmp_path, gke_spec(), {}))


def test_a_stack_whose_image_has_no_batch_extra_is_refused_before_any_call(
    tmp_path: Path,
) -> None:
    stack = BatchStack("prod-gke", tmp_path, gke_spec(batch_jobs=False), {})
    configuration = kubernetes.client.Configuration()
    configuration.host = "http://127.0.0.1:9"  # nothing listens: a call would fail otherwise
    batch = GkeBatch(stack, api_client=kubernetes.client.ApiClient(configuration))
    request = JobRequest("gs://in-bucket/in/", "gs://out-bucket/out/")
    with pytest.raises(BatchJobError, match=r"set targets\.gcp\.batch_jobs: true"):
        batch.submit(request)


def test_the_image_holds_the_batch_extra_only_when_asked() -> None:
    from inferstack.components.gcp.capture import image_extras

    assert image_extras(gke_spec(batch_jobs=False)) == ()
    assert image_extras(gke_spec(batch_jobs=True)) == ("batch",)
