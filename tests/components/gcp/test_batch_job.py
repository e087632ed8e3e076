"""The GKE batch Job manifest, validated as the serving objects are: Kubernetes 1.33's
schema (kubernetes-validate, strict) and checkov; scheduled on the stack's spot pool,
restricted pod security, retries that preemption does not use up, bad arguments refused."""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from inferstack.components.gcp.batch_job import (
    GCSFUSE_ANNOTATION,
    GCSFUSE_DRIVER,
    JOB_NAME,
    USAGE_EXIT,
    BatchJob,
    BatchJobSpecError,
    GcsFolder,
    batch_job,
    job_name,
)
from inferstack.components.gcp.workloads import CAPACITY_LABEL, DEPLOYMENT_LABEL
from tests.components.gcp.conftest import IMAGE, gke_spec, objects_of
from tests.components.gcp.test_manifests import K8S_VERSION
from tests.tools import require_tool

NAMESPACE = "churn-prod"
JOB = BatchJob(
    name="churn-score-20261201-120000",
    namespace=NAMESPACE,
    model="churn",
    version="1.1.0",
    environment="prod",
    image=IMAGE,
    service_account="churn-runtime",
    input=GcsFolder.parse("gs://churn-data/batch/in/", "input"),
    output=GcsFolder.parse("gs://churn-results/batch/out/", "output"),
    cpu="4",
    memory="16Gi",
    gpus=1,
    shards=3,
    workers=4,
)
CPU_JOB = replace(JOB, gpus=0, shards=1, cpu="1", memory="2Gi", workers=1)


def pod_of(manifest: dict[str, Any]) -> dict[str, Any]:
    return manifest["spec"]["template"]["spec"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("job", [JOB, CPU_JOB], ids=["gpu, 3 shards", "cpu, 1 shard"])
def test_manifest_matches_kubernetes_1_33(job: BatchJob) -> None:
    kubernetes_validate.validate(batch_job(job), K8S_VERSION, strict=True)


def test_kubernetes_validate_catches_a_broken_job() -> None:
    manifest = batch_job(JOB)
    manifest["spec"]["podFailurePolicy"]["rules"][0]["action"] = 7
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)


def test_checkov_finds_no_failures(tmp_path: Path) -> None:
    checkov = require_tool("checkov")
    rendered = tmp_path / "job.yaml"
    # With the stack's NetworkPolicy, which selects the Job's pods by their model label.
    policy = next(o for o in objects_of(gke_spec()) if o["kind"] == "NetworkPolicy")
    jobs = [
        batch_job(replace(j, namespace=policy["metadata"]["namespace"])) for j in (JOB, CPU_JOB)
    ]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    for job in jobs:
        assert selector.items() <= job["spec"]["template"]["metadata"]["labels"].items()
    rendered.write_text(yaml.safe_dump_all([policy, *jobs], sort_keys=False))
    result = subprocess.run(
        [checkov, "--framework", "kubernetes", "-f", str(rendered), "-o", "json", "--quiet"],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    reports = report if isinstance(report, list) else [report]
    failed = [
        f"{c['check_id']} {c['resource']}: {c['check_name']}"
        for r in reports
        for c in r.get("results", {}).get("failed_checks", [])
    ]
    assert not failed, "\n".join(failed)
    assert sum(r["summary"]["passed"] for r in reports) > 40
    assert all(r["summary"]["parsing_errors"] == 0 for r in reports)


def test_runs_on_the_stacks_own_pools_spot_first() -> None:
    pod = pod_of(batch_job(JOB))
    affinity = pod["affinity"]["nodeAffinity"]
    (term,) = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    required = {e["key"]: e["values"] for e in term["matchExpressions"]}
    assert required == {CAPACITY_LABEL: ["spot", "on-demand"], DEPLOYMENT_LABEL: [NAMESPACE]}
    (preferred,) = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred["preference"]["matchExpressions"][0]["values"] == ["spot"]
    tolerated = {(t["key"], t["value"], t["effect"]) for t in pod["tolerations"]}
    assert ("cloud.google.com/gke-spot", "true", "NoSchedule") in tolerated
    assert ("nvidia.com/gpu", "present", "NoSchedule") in tolerated
    assert pod["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    cpu_pod = pod_of(batch_job(CPU_JOB))
    assert {t["key"] for t in cpu_pod["tolerations"]} == {"cloud.google.com/gke-spot"}


def test_the_stacks_serving_pods_use_the_same_node_labels_and_taints() -> None:
    """The Job lands where the stack's spot-first (flex) Deployment lands: same node labels,
    same taints tolerated."""
    serving = next(
        o
        for o in objects_of(gke_spec())
        if o["kind"] == "Deployment"
        and o["spec"]["template"]["metadata"]["labels"][CAPACITY_LABEL] == "flex"
    )
    serving_pod = serving["spec"]["template"]["spec"]
    ours = pod_of(batch_job(replace(JOB, namespace=serving["metadata"]["namespace"])))
    assert ours["affinity"] == serving_pod["affinity"]
    assert {json.dumps(t, sort_keys=True) for t in ours["tolerations"]} == {
        json.dumps(t, sort_keys=True) for t in serving_pod["tolerations"]
    }


def test_indexed_retries_preemption_and_cleanup() -> None:
    spec = batch_job(JOB)["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] == 3
    assert spec["backoffLimitPerIndex"] == 3
    assert spec["maxFailedIndexes"] == 0
    assert spec["activeDeadlineSeconds"] > 0
    assert spec["ttlSecondsAfterFinished"] > 0
    assert spec["template"]["spec"]["restartPolicy"] == "Never"  # podFailurePolicy needs it
    ignore, fail = spec["podFailurePolicy"]["rules"]
    assert ignore == {
        "action": "Ignore",
        "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
    }
    assert fail["action"] == "FailIndex"
    assert fail["onExitCodes"]["values"] == [USAGE_EXIT]
    command = spec["template"]["spec"]["containers"][0]["command"]
    assert command[:3] == ["python", "-m", "inferstack.runtime.batch_job"]
    assert command[-4:] == ["--shards", "3", "--workers", "4"]


def test_reads_and_writes_cloud_storage_through_gcsfuse() -> None:
    manifest = batch_job(JOB)
    template = manifest["spec"]["template"]
    assert template["metadata"]["annotations"] == {GCSFUSE_ANNOTATION: "true"}
    volumes = {v["name"]: v for v in template["spec"]["volumes"]}
    assert volumes["input"]["csi"] == {
        "driver": GCSFUSE_DRIVER,
        "readOnly": True,
        "volumeAttributes": {
            "bucketName": "churn-data",
            "mountOptions": "implicit-dirs,only-dir=batch/in",
        },
    }
    assert volumes["output"]["csi"]["readOnly"] is False
    assert volumes["output"]["csi"]["volumeAttributes"]["bucketName"] == "churn-results"
    assert template["spec"]["serviceAccountName"] == "churn-runtime"  # Workload Identity


def test_restricted_pod_security() -> None:
    pod = pod_of(batch_job(JOB))
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    # restricted admits these volume kinds only (csi, emptyDir, ...): no hostPath.
    assert all(set(v) - {"name"} <= {"csi", "emptyDir"} for v in pod["volumes"])
    for container in pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["readOnlyRootFilesystem"] is True
        assert context["runAsUser"] != 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shards": 0}, "instance_count"),
        ({"shards": 101}, "instance_count"),
        ({"name": "Churn_Score"}, "job name"),
        ({"name": "x" * 53}, "job name"),
        ({"output": GcsFolder.parse("gs://churn-data/batch/in/out/", "output")}, "inside"),
        ({"output": GcsFolder.parse("gs://churn-data/batch/in", "output")}, "inside"),
    ],
)
def test_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(BatchJobSpecError, match=message):
        batch_job(replace(JOB, **change))


@pytest.mark.parametrize("uri", ["s3://b/in/", "gs://", "gs://B/x", "/data/in", "azureml://x"])
def test_only_cloud_storage_uris(uri: str) -> None:
    with pytest.raises(BatchJobSpecError, match="gs://"):
        GcsFolder.parse(uri, "input")


def test_job_names_fit_for_the_longest_model() -> None:
    name = job_name("m" * 40, "20261201-235959")
    assert not JOB_NAME.problems(name)
    assert len(f"{name}-99") <= 63
