"""`inferstack score --stack` on AWS: SageMaker Batch Transform from the stack's model.

The stack is declared by its real component into moto (conftest.py); jobs are created,
described and stopped through boto3 against moto, and the CLI runs end to end through
typer's CliRunner. Moto does not run containers, so a job's life (running, then
completed with its `.out` objects, or failed) is scripted in moto (`job_script`).
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from inferstack.components.aws.common import names_for
from inferstack.components.batch.aws import AwsBatch, default_job_name, payload_mb
from inferstack.components.batch.aws_input import looks_like_header
from inferstack.components.batch.seam import (
    BatchJobError,
    JobRequest,
    batch_for,
    open_batch_stack,
)
from inferstack.components.cli.app import app
from tests.components.batch.conftest import (
    FEATURES,
    REGION,
    STACK,
    Deployed,
    JobScript,
    write_project,
)

ENDPOINT = "churn-test"
ROWS = ["12.000000,345.670000", "3.000000,41.500000", "40.000000,1200.250000"]


def _csv(folder: Path, name: str = "customers.csv", header: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    lines = ([",".join(FEATURES)] if header else []) + ROWS[:2] + [""] + ROWS[2:]
    path.write_text("\n".join(lines) + "\n")
    return path


def _sagemaker():
    return boto3.client("sagemaker", region_name=REGION)


def _s3():
    return boto3.client("s3", region_name=REGION)


def _batch(deployed: Deployed) -> AwsBatch:
    return AwsBatch(open_batch_stack(STACK, deployed.root))


def _out(deployed: Deployed, job: str = "") -> str:
    return f"s3://{deployed.bucket}/batch/{ENDPOINT}/output/{job}".rstrip("/")


def _score(*args: str):
    return CliRunner().invoke(app, ["score", "--stack", STACK, *args], catch_exceptions=False)


# -- what the job is made of ----------------------------------------------------------------


def test_names_match_the_aws_target(deployed: Deployed) -> None:
    names = names_for("churn", deployed.spec, STACK)
    assert names.endpoint == ENDPOINT
    assert names.batch_input == f"batch/{ENDPOINT}/input"


def test_job_runs_the_primary_variants_model_on_csv_lines(
    deployed: Deployed, tmp_path: Path, job_script: JobScript
) -> None:
    batch = _batch(deployed)
    job = batch.submit(
        JobRequest(str(_csv(tmp_path)), _out(deployed, "run1"), job_name="churn-run1")
    )
    found = _sagemaker().describe_transform_job(TransformJobName=job)
    endpoint = _sagemaker().describe_endpoint(EndpointName=ENDPOINT)
    config = _sagemaker().describe_endpoint_config(
        EndpointConfigName=endpoint["EndpointConfigName"]
    )
    (primary,) = [v for v in config["ProductionVariants"] if v["VariantName"] == "primary"]
    assert found["ModelName"] == primary["ModelName"]
    assert found["BatchStrategy"] == "MultiRecord"
    assert found["TransformInput"]["ContentType"] == "text/csv"
    assert found["TransformInput"]["SplitType"] == "Line"
    assert found["TransformOutput"]["AssembleWith"] == "Line"
    assert found["DataProcessing"]["JoinSource"] == "Input"
    # Rows of 19-22 bytes: 100,000 of the shortest (the runtime's row cap) fill 1-2 MiB.
    assert found["MaxPayloadInMB"] == payload_mb(6 * 1024 * 1024, 100_000, 19)
    assert 1 <= found["MaxPayloadInMB"] * found["MaxConcurrentTransforms"] <= 100
    assert found["TransformResources"] == {
        "InstanceType": deployed.spec.instance_type(),
        "InstanceCount": 1,
        "VolumeKmsKeyId": _stack_key_arn(),
    }
    assert found["TransformOutput"]["KmsKeyId"] == _stack_key_arn()
    assert found["TransformOutput"]["S3OutputPath"] == _out(deployed, "run1")


def _stack_key_arn() -> str:
    kms = boto3.client("kms", region_name=REGION)
    return kms.describe_key(KeyId=f"alias/inferstack/{ENDPOINT}")["KeyMetadata"]["Arn"]


def test_local_csv_is_uploaded_without_header_or_blank_lines(
    deployed: Deployed, tmp_path: Path, job_script: JobScript
) -> None:
    job = _batch(deployed).submit(
        JobRequest(str(_csv(tmp_path)), _out(deployed), job_name="churn-upload")
    )
    key = f"batch/{ENDPOINT}/input/{job}/customers.csv"
    uploaded = _s3().get_object(Bucket=deployed.bucket, Key=key)
    assert uploaded["Body"].read().decode() == "\n".join(ROWS) + "\n"
    assert uploaded["ServerSideEncryption"] == "aws:kms"
    assert uploaded["SSEKMSKeyId"] == _stack_key_arn()
    manifest_uri = _sagemaker().describe_transform_job(TransformJobName=job)["TransformInput"][
        "DataSource"
    ]["S3DataSource"]
    assert manifest_uri["S3DataType"] == "ManifestFile"
    manifest_key = manifest_uri["S3Uri"].split(deployed.bucket + "/", 1)[1]
    assert manifest_key.startswith(f"batch/{ENDPOINT}/input/")
    manifest = json.loads(_s3().get_object(Bucket=deployed.bucket, Key=manifest_key)["Body"].read())
    assert manifest == [
        {"prefix": f"s3://{deployed.bucket}/batch/{ENDPOINT}/input/{job}/"},
        "customers.csv",
    ]


def test_execution_role_reads_batch_input_and_writes_batch_output(deployed: Deployed) -> None:
    iam = boto3.client("iam", region_name=REGION)
    statements = []
    for role in iam.list_roles()["Roles"]:
        if "sagemaker.amazonaws.com" not in json.dumps(role["AssumeRolePolicyDocument"]):
            continue
        for name in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
            doc = iam.get_role_policy(RoleName=role["RoleName"], PolicyName=name)
            statements += doc["PolicyDocument"]["Statement"]
    bucket_arn = f"arn:aws:s3:::{deployed.bucket}"
    reads = next(s for s in statements if s.get("Sid") == "ReadArtifacts")["Resource"]
    writes = next(s for s in statements if s.get("Sid") == "WriteOwnPrefixes")["Resource"]
    assert f"{bucket_arn}/batch/{ENDPOINT}/input/*" in reads
    assert f"{bucket_arn}/batch/{ENDPOINT}/output/*" in writes
    assert not any("/batch/" in r and "/output/" in r for r in reads)
    assert not any("/batch/" in r and "/input/" in r for r in writes)
    logs = next(s for s in statements if s.get("Sid") == "WriteTransformJobLogs")
    group = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/TransformJobs"
    assert logs["Resource"] == [group, f"{group}:log-stream:*"]
    assert "logs:PutLogEvents" in logs["Action"]


def test_s3_input_under_the_batch_prefix_is_used_as_is(
    deployed: Deployed, job_script: JobScript
) -> None:
    key = f"batch/{ENDPOINT}/input/daily/2026-12-01.csv"
    _s3().put_object(Bucket=deployed.bucket, Key=key, Body=("\n".join(ROWS) + "\n").encode())
    uri = f"s3://{deployed.bucket}/batch/{ENDPOINT}/input/daily"
    job = _batch(deployed).submit(JobRequest(uri, _out(deployed), job_name="churn-daily"))
    source = _sagemaker().describe_transform_job(TransformJobName=job)["TransformInput"]
    manifest_key = source["DataSource"]["S3DataSource"]["S3Uri"].split(deployed.bucket + "/")[1]
    manifest = json.loads(_s3().get_object(Bucket=deployed.bucket, Key=manifest_key)["Body"].read())
    assert manifest[1:] == ["2026-12-01.csv"]


def test_s3_input_with_a_header_row_is_refused(deployed: Deployed, job_script: JobScript) -> None:
    key = f"batch/{ENDPOINT}/input/with-header/part.csv"
    body = ",".join(FEATURES) + "\n" + "\n".join(ROWS) + "\n"
    _s3().put_object(Bucket=deployed.bucket, Key=key, Body=body.encode())
    uri = f"s3://{deployed.bucket}/batch/{ENDPOINT}/input/with-header"
    with pytest.raises(BatchJobError, match="starts with a header row"):
        _batch(deployed).submit(JobRequest(uri, _out(deployed), job_name="churn-header"))
    assert "churn-header" not in _job_names()


def test_a_local_csv_whose_columns_differ_from_the_bundle_is_refused(
    deployed: Deployed, tmp_path: Path, job_script: JobScript
) -> None:
    path = tmp_path / "swapped.csv"
    path.write_text("spend,tenure\n345.67,12\n")
    with pytest.raises(BatchJobError, match="passes columns by position"):
        _batch(deployed).submit(JobRequest(str(path), _out(deployed), job_name="churn-swap"))
    assert "churn-swap" not in _job_names()


def test_one_s3_object_is_used_as_is(deployed: Deployed, job_script: JobScript) -> None:
    key = f"batch/{ENDPOINT}/input/one/part-0.csv"
    _s3().put_object(Bucket=deployed.bucket, Key=key, Body=("\n".join(ROWS) + "\n").encode())
    uri = f"s3://{deployed.bucket}/{key}"
    job = _batch(deployed).submit(JobRequest(uri, _out(deployed), job_name="churn-one"))
    source = _sagemaker().describe_transform_job(TransformJobName=job)["TransformInput"]
    manifest_key = source["DataSource"]["S3DataSource"]["S3Uri"].split(deployed.bucket + "/")[1]
    manifest = json.loads(_s3().get_object(Bucket=deployed.bucket, Key=manifest_key)["Body"].read())
    assert manifest == [
        {"prefix": f"s3://{deployed.bucket}/batch/{ENDPOINT}/input/one/"},
        "part-0.csv",
    ]


def _job_names() -> list[str]:
    return [
        j["TransformJobName"] for j in _sagemaker().list_transform_jobs()["TransformJobSummaries"]
    ]


@pytest.mark.parametrize(
    ("input_uri", "output_uri", "problem"),
    [
        (
            "s3://{bucket}/elsewhere/data.csv",
            "{out}",
            "outside what the stack's SageMaker role may read",
        ),
        ("{csv}", "s3://{bucket}/capture/x", "outside what the stack's SageMaker role may write"),
        ("{csv}", "s3://another-bucket/batch/churn-test/output", "outside"),
    ],
)
def test_uris_outside_the_roles_prefixes_are_refused(
    deployed: Deployed, tmp_path: Path, input_uri: str, output_uri: str, problem: str
) -> None:
    values = {"bucket": deployed.bucket, "out": _out(deployed), "csv": str(_csv(tmp_path))}
    request = JobRequest(input_uri.format(**values), output_uri.format(**values), job_name="x1")
    with pytest.raises(BatchJobError, match=problem):
        _batch(deployed).submit(request)
    assert "x1" not in _job_names()


# -- the command ------------------------------------------------------------------------------


def test_score_stack_follows_the_job_to_completed(
    deployed: Deployed, in_project, tmp_path: Path, job_script: JobScript
) -> None:
    job_script.running_polls = 2
    result = _score(
        str(_csv(tmp_path)),
        "--out",
        _out(deployed, "cli"),
        "--poll",
        "0.1",
        "--job-name",
        "churn-cli",
        "--json",
    )
    assert result.exit_code == 0, result.output
    final = json.loads(result.stdout)
    assert final["state"] == "succeeded"
    assert final["final"] is True
    assert (final["done"], final["total"]) == (1, 1)
    assert final["console_url"].endswith("#/transform-jobs/churn-cli")
    assert "job churn-cli started on aws" in result.stderr
    assert "console: https://us-east-1.console.aws.amazon.com/sagemaker/" in result.stderr
    assert job_script.polls["churn-cli"] == 3
    written = (
        _s3()
        .get_object(Bucket=deployed.bucket, Key=f"batch/{ENDPOINT}/output/cli/customers.csv.out")[
            "Body"
        ]
        .read()
        .decode()
    )
    assert written.splitlines() == [f"{row},0.5" for row in ROWS]


def test_score_stack_no_wait_prints_the_running_job(
    deployed: Deployed, in_project, tmp_path: Path, job_script: JobScript
) -> None:
    job_script.running_polls = 5
    result = _score(
        str(_csv(tmp_path)),
        "--out",
        _out(deployed),
        "--no-wait",
        "--job-name",
        "churn-nowait",
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == "running"


def test_a_failed_job_prints_the_platforms_reason_and_exits_non_zero(
    deployed: Deployed, in_project, tmp_path: Path, job_script: JobScript
) -> None:
    job_script.running_polls, job_script.outcome = 1, "Failed"
    job_script.failure_reason = "ClientError: See job logs for more information"
    result = _score(
        str(_csv(tmp_path)), "--out", _out(deployed), "--poll", "0.1", "--job-name", "churn-fail"
    )
    assert result.exit_code == 1
    assert "job churn-fail failed: ClientError: See job logs" in " ".join(result.stderr.split())


@pytest.mark.parametrize("poll", [1, 2], ids=["on-the-first-status", "while-following"])
def test_ctrl_c_stops_the_job(
    deployed: Deployed, in_project, tmp_path: Path, job_script: JobScript, poll: int
) -> None:
    job_script.running_polls, job_script.interrupt_on_poll = 10, poll
    result = _score(
        str(_csv(tmp_path)),
        "--out",
        _out(deployed),
        "--poll",
        "0.1",
        "--job-name",
        f"churn-stop{poll}",
    )
    assert result.exit_code == 130
    assert f"asked aws to stop job churn-stop{poll}" in result.stderr
    assert job_script.stopped == [f"churn-stop{poll}"]
    state = _sagemaker().describe_transform_job(TransformJobName=f"churn-stop{poll}")
    assert state["TransformJobStatus"] == "Stopped"


# -- refused before any call ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["{csv}", "--out", "/tmp/results"], "output '/tmp/results' is not an s3://bucket/key URI"),
        (["{missing}", "--out", "s3://bkt1/batch/out"], "no such file or s3:// URI"),
        (["s3:/b1/in", "--out", "s3://bkt1/batch/out"], "no such file or s3:// URI"),
        (["{csv}", "--out", "s3://bkt1/o", "--job-name", "j" * 64], "64 characters, not 1-63"),
        (["{csv}", "--out", "s3://bkt1/o", "--job-name", "bad_name"], "does not match"),
        (
            ["{csv}", "--out", "s3://bkt1/o", "--instance-type", "ml.t2.medium"],
            "cannot run a transform job",
        ),
    ],
)
def test_bad_requests_are_refused_before_any_call(
    tmp_path: Path,
    project_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    problem: str,
) -> None:
    from tests.components.batch.conftest import spec_data, write_bundle

    # No moto and no stack deployed: a call would fail with a different message.
    root = write_project(
        tmp_path / "p", project_root, STACK, spec_data(write_bundle(tmp_path / "b"))
    )
    monkeypatch.chdir(root)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    values = {"csv": str(_csv(tmp_path)), "missing": str(tmp_path / "nope.csv")}
    result = _score(*(a.format(**values) for a in args))
    assert result.exit_code == 2, result.output
    assert problem in " ".join(result.stderr.split())


def test_batch_for_a_target_without_batch_jobs_says_so(project_root: Path) -> None:
    with pytest.raises(BatchJobError, match="not available for the local target"):
        batch_for(open_batch_stack("local", project_root))


def test_score_needs_out_and_refuses_a_bundle_with_stack(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["score", "--stack", STACK, "a.csv", "b.csv", "--out", "s3://b/o"]
    )
    assert result.exit_code == 2
    assert "with --stack give INPUT only" in " ".join(result.stderr.split())


# -- the pieces -------------------------------------------------------------------------------


def test_default_job_name_fits_for_the_longest_endpoint() -> None:
    from datetime import UTC, datetime

    name = default_job_name("e" * 63, datetime(2026, 12, 1, 22, 5, 0, tzinfo=UTC))
    assert len(name) == 63
    assert name.endswith("-20261201-220500")
    assert default_job_name(ENDPOINT, datetime(2026, 1, 2, tzinfo=UTC)) == (
        "churn-test-20260102-000000"
    )


def test_header_detection() -> None:
    assert looks_like_header("tenure,spend", FEATURES)
    assert looks_like_header('"tenure", "spend"', FEATURES)
    assert not looks_like_header("1,2", FEATURES)
    assert looks_like_header("a,b", [])
    assert not looks_like_header("a,2", [])


def test_the_runtimes_default_caps_are_those_the_job_assumes() -> None:
    from inferstack.components.batch import aws
    from inferstack.runtime.settings import RuntimeSettings

    fields = RuntimeSettings.model_fields
    assert fields["max_request_bytes"].default == aws.RUNTIME_MAX_BYTES
    assert fields["max_request_rows"].default == aws.RUNTIME_MAX_ROWS


def test_payload_stays_within_the_runtimes_caps() -> None:
    mib = 1024 * 1024
    assert payload_mb(6 * mib, 100_000, 400) == 6  # the body cap
    assert payload_mb(6 * mib, 100_000, 21) == 2  # 100,000 rows of 21 bytes
    assert payload_mb(6 * mib, 100_000, 8) == 0  # refused: 1 MB holds too many rows
    assert payload_mb(500 * mib, 10**9, 100) == 25  # 4 in flight x 25 MB = the 100 MB limit
