"""SageMaker Batch Transform for `inferstack score --stack`: the stack's model over CSV in S3.

The job runs the model behind the endpoint's primary variant (DescribeEndpoint, then
DescribeEndpointConfig) in the same runtime image, which answers SageMaker's CSV on
`/invocations`: one row per line, no header, one output line per input row. So:

- Records are lines (SplitType Line) sent many per request (BatchStrategy MultiRecord);
  each request stays within the runtime's request caps (bytes and rows), and results are
  joined to their input line (DataProcessing JoinSource Input, AssembleWith Line), so
  every output line is the input row followed by the model's answer.
- SageMaker sends every line, a header included. A local CSV (which has a header row, as
  `inferstack score` expects) is uploaded without it and without blank lines; S3 input
  must already be headerless, and a first line that looks like a header is refused.
- The execution role reads only `batch/<endpoint>/input/` and writes only
  `batch/<endpoint>/output/` in the stack's bucket (aws/storage.py), so input and output
  must lie there. The job reads a manifest of the input objects (no bucket listing).
- Results and volumes are encrypted with the stack's KMS key (the bucket admits no other).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inferstack.components.aws.naming import KMS_ALIAS, NameRule, fit
from inferstack.components.batch.aws_input import (
    Staging,
    aws_errors,
    bundle_features,
    local_csvs,
    split_s3,
)
from inferstack.components.batch.seam import (
    BatchJobError,
    BatchStack,
    JobRequest,
    JobState,
    JobStatus,
)

MIB = 1024 * 1024
MAX_PAYLOAD_MB = 100
"""CreateTransformJob: MaxPayloadInMB at most 100, and MaxConcurrentTransforms times it too."""
# The runtime's default request caps (runtime/settings.py; a test keeps them equal): the
# settings module needs the runtime extra, which `score --stack` does not.
RUNTIME_MAX_BYTES = 6 * MIB
RUNTIME_MAX_ROWS = 100_000
CONCURRENCY = 4
"""Requests in flight per instance; the runtime batches across them."""
STATES: dict[str, JobState] = {
    "InProgress": "running",
    "Stopping": "running",
    "Completed": "succeeded",
    "Failed": "failed",
    "Stopped": "stopped",
}
# Instance families with local NVMe storage: SageMaker refuses a volume KMS key for them
# (their instance store is encrypted by the hardware).
LOCAL_STORAGE_FAMILIES = ("g4dn", "g5", "g6", "g6e", "trn1")
MAX_INSTANCES = 100
TRANSFORM_JOB = NameRule(
    "SageMaker transform job name",
    "boto3:sagemaker.create_transform_job",
    "TransformJobName",
    63,
    r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}",
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html",
)


def transform_instance_types() -> tuple[str, ...]:
    """The instance types CreateTransformJob accepts, from botocore's service model."""
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return tuple(model.shape_for("TransformInstanceType").enum)


def default_job_name(endpoint: str, now: datetime | None = None) -> str:
    """`<endpoint>-<UTC time>`, cut to fit a transform job's name with a stable hash."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    if len(endpoint) + 1 + len(stamp) > TRANSFORM_JOB.max_length:
        endpoint = fit(TRANSFORM_JOB, endpoint)[: TRANSFORM_JOB.max_length - len(stamp) - 1]
    return f"{endpoint.rstrip('-')}-{stamp}"


def stack_key_alias(endpoint: str) -> str:
    """The stack key's alias, as aws/kms.py names it."""
    return fit(KMS_ALIAS, f"alias/inferstack/{endpoint}")


def payload_mb(max_bytes: int, max_rows: int, shortest_row: int) -> int:
    """The largest MaxPayloadInMB whose requests stay within the runtime's caps: its body
    size, and its row count when every row is as short as the shortest one seen."""
    by_rows = (max_rows * max(shortest_row, 1)) // MIB
    return min(max_bytes // MIB, by_rows, MAX_PAYLOAD_MB // CONCURRENCY)


@dataclass(frozen=True)
class StackModel:
    """What a job needs from the deployed stack, found through SageMaker and KMS."""

    model: str
    bucket: str
    key_arn: str
    environment: dict[str, str]


class AwsBatch:
    """Batch Transform jobs from one AWS stack's SageMaker model."""

    target = "aws"

    def __init__(self, stack: BatchStack, *, session: Any = None) -> None:
        import boto3

        from inferstack.components.aws.common import names_for

        self.stack = stack
        self.spec = stack.spec
        self.region = stack.spec.region or str(stack.config.get("aws:region") or "") or "us-east-1"
        self.names = names_for(stack.spec.model.name, stack.spec, stack.name)
        session = session or boto3.session.Session(region_name=self.region)
        self.sagemaker = session.client("sagemaker", region_name=self.region)
        self.s3 = session.client("s3", region_name=self.region)
        self.kms = session.client("kms", region_name=self.region)
        self._totals: dict[str, tuple[str, str, tuple[str, ...]]] = {}

    # -- validation before any call ---------------------------------------------------

    def check(self, request: JobRequest) -> tuple[str, str, int]:
        """The job's name, instance type and count; refused before any AWS call."""
        name = request.job_name or default_job_name(self.names.endpoint)
        problems = TRANSFORM_JOB.problems(name)
        if problems:
            raise BatchJobError(f"job name {name!r}: {'; '.join(problems)}")
        instance_type = request.instance_type or self.spec.instance_type()
        if instance_type not in transform_instance_types():
            raise BatchJobError(
                f"instance type {instance_type!r} cannot run a transform job; pass "
                "--instance-type with one CreateTransformJob accepts, e.g. ml.m5.xlarge"
            )
        count = request.instance_count if request.instance_count is not None else 1
        if not 1 <= count <= MAX_INSTANCES:
            raise BatchJobError(f"instance count {count}: 1 to {MAX_INSTANCES}")
        split_s3(request.output_uri, "output")
        if not request.input_uri.startswith("s3://"):
            path = Path(request.input_uri)
            if not path.exists():
                raise BatchJobError(f"input {request.input_uri!r}: no such file or s3:// URI")
            if not local_csvs(path):
                raise BatchJobError(
                    f"input {request.input_uri!r}: a transform job reads CSV; "
                    "give a .csv file or a folder of them"
                )
        else:
            split_s3(request.input_uri, "input")
        return name, instance_type, count

    def _within(self, uri: str, bucket: str, prefix: str, what: str) -> str:
        got_bucket, key = split_s3(uri, what)
        if got_bucket != bucket or not (key + "/").startswith(prefix + "/"):
            raise BatchJobError(
                f"{what} {uri!r} is outside what the stack's SageMaker role may "
                f"{'read' if what == 'input' else 'write'}: use s3://{bucket}/{prefix}/..."
                + (" or a local CSV (uploaded there)" if what == "input" else "")
            )
        return key.rstrip("/")

    # -- the deployed stack -----------------------------------------------------------

    def _aws(self, what: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except aws_errors() as err:
            raise BatchJobError(f"{what} ({self.region}): {err}") from err

    def stack_model(self) -> StackModel:
        """The model behind the primary variant, the stack's bucket and key."""
        from botocore.exceptions import ClientError

        endpoint = self.names.endpoint
        try:
            found = self.sagemaker.describe_endpoint(EndpointName=endpoint)
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ValidationException":
                raise BatchJobError(f"DescribeEndpoint {endpoint} ({self.region}): {err}") from err
            raise BatchJobError(
                f"SageMaker endpoint {endpoint!r} not found in {self.region} "
                f"(deploy stack {self.stack.name} first): {err}"
            ) from err
        config = self._aws(
            "DescribeEndpointConfig",
            self.sagemaker.describe_endpoint_config,
            EndpointConfigName=found["EndpointConfigName"],
        )
        variants = config["ProductionVariants"]
        primary = next((v for v in variants if v["VariantName"] == self.names.variants[0]), None)
        model_name = (primary or variants[0])["ModelName"]
        model = self._aws("DescribeModel", self.sagemaker.describe_model, ModelName=model_name)
        container = model.get("PrimaryContainer") or {}
        key = self._aws("DescribeKey", self.kms.describe_key, KeyId=stack_key_alias(endpoint))
        return StackModel(
            model=model_name,
            bucket=self._bucket(container, config),
            key_arn=key["KeyMetadata"]["Arn"],
            environment=dict(container.get("Environment") or {}),
        )

    def _bucket(self, container: dict[str, Any], config: dict[str, Any]) -> str:
        """The stack's bucket: where it put capture, async output or the model archive."""
        candidates = [
            (config.get("DataCaptureConfig") or {}).get("DestinationS3Uri", ""),
            ((config.get("AsyncInferenceConfig") or {}).get("OutputConfig") or {}).get(
                "S3OutputPath", ""
            ),
        ]
        if not str(self.spec.model.artifact or "").startswith("s3://"):
            candidates.append(container.get("ModelDataUrl", ""))
        for uri in candidates:
            if uri.startswith("s3://"):
                return split_s3(uri, "stack location")[0]
        raise BatchJobError(
            f"cannot tell stack {self.stack.name}'s bucket from endpoint {self.names.endpoint} "
            "(no data capture, async output or uploaded model archive)"
        )

    # -- the seam -----------------------------------------------------------------------

    def submit(self, request: JobRequest) -> str:
        """Check the request, put the input in place, CreateTransformJob; the job's name."""
        from inferstack.runtime.contract import Env

        job, instance_type, count = self.check(request)
        where = self.stack_model()
        self._within(request.output_uri, where.bucket, self.names.batch_output, "output")
        staging = Staging(
            self.s3,
            where.bucket,
            where.key_arn,
            self.names.batch_input,
            tuple(bundle_features(self.spec.model.artifact, self.stack.root)),
        )
        if request.input_uri.startswith("s3://"):
            key = self._within(request.input_uri, where.bucket, self.names.batch_input, "input")
            inputs = staging.listed(key, request.input_uri)
        else:
            inputs = staging.upload(Path(request.input_uri), job)
        max_bytes = int(where.environment.get(Env.MAX_REQUEST_BYTES) or RUNTIME_MAX_BYTES)
        max_rows = int(where.environment.get(Env.MAX_REQUEST_ROWS) or RUNTIME_MAX_ROWS)
        payload = payload_mb(max_bytes, max_rows, inputs.shortest_row)
        if payload < 1:
            raise BatchJobError(
                f"rows of {inputs.shortest_row} bytes: 1 MB of them is more than the "
                f"runtime's {max_rows} rows per request; raise {Env.MAX_REQUEST_ROWS} "
                "on the stack's model"
            )
        manifest = staging.manifest(inputs, job)
        resources: dict[str, Any] = {"InstanceType": instance_type, "InstanceCount": count}
        if instance_type.split(".")[1] not in LOCAL_STORAGE_FAMILIES:
            resources["VolumeKmsKeyId"] = where.key_arn
        self._aws(
            "CreateTransformJob",
            self.sagemaker.create_transform_job,
            TransformJobName=job,
            ModelName=where.model,
            MaxConcurrentTransforms=CONCURRENCY,
            MaxPayloadInMB=payload,
            BatchStrategy="MultiRecord",
            ModelClientConfig={"InvocationsTimeoutInSeconds": 600, "InvocationsMaxRetries": 1},
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": manifest}},
                "ContentType": "text/csv",
                "SplitType": "Line",
                "CompressionType": "None",
            },
            TransformOutput={
                "S3OutputPath": request.output_uri.rstrip("/"),
                "Accept": "text/csv",
                "AssembleWith": "Line",
                "KmsKeyId": where.key_arn,
            },
            TransformResources=resources,
            DataProcessing={"InputFilter": "$", "JoinSource": "Input", "OutputFilter": "$"},
            Tags=[{"Key": k, "Value": v} for k, v in self._tags().items()],
        )
        return job

    def _tags(self) -> dict[str, str]:
        from inferstack.components.aws.common import resource_tags

        return resource_tags(self.spec, **{"inferstack:stack": self.stack.name})

    def _progress(self, job: dict[str, Any]) -> tuple[int | None, int | None]:
        """(.out objects written, input objects) from the manifest and the output prefix."""
        name = job["TransformJobName"]
        if name not in self._totals:
            manifest = job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
            bucket, key = split_s3(manifest, "manifest")
            unreadable: tuple[type[Exception], ...] = (*aws_errors(), ValueError)
            try:
                body = json.loads(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
            except unreadable:  # progress is best-effort; the state is what counts
                return None, None
            out_bucket, out_key = split_s3(job["TransformOutput"]["S3OutputPath"], "output")
            self._totals[name] = (out_bucket, out_key, tuple(f"{k}.out" for k in body[1:]))
        out_bucket, out_key, expected = self._totals[name]
        try:
            pages = self.s3.get_paginator("list_objects_v2").paginate(
                Bucket=out_bucket, Prefix=out_key
            )
            written = {o["Key"] for page in pages for o in page.get("Contents", [])}
        except aws_errors():
            return None, len(expected)
        return sum(f"{out_key}/{e}" in written for e in expected), len(expected)

    def status(self, job_id: str) -> JobStatus:
        """DescribeTransformJob, with the output objects written so far."""
        job = self._aws(
            "DescribeTransformJob", self.sagemaker.describe_transform_job, TransformJobName=job_id
        )
        raw = job["TransformJobStatus"]
        done, total = self._progress(job)
        message = job.get("FailureReason") or raw
        return JobStatus(
            job_id=job_id,
            state=STATES.get(raw, "pending"),
            message=message,
            done=done,
            total=total,
            output_uri=job["TransformOutput"]["S3OutputPath"],
            console_url=self.console_url(job_id),
            details={"status": raw, "model": job.get("ModelName", "")},
        )

    def stop(self, job_id: str) -> None:
        """StopTransformJob (the job moves to Stopping, then Stopped)."""
        self._aws("StopTransformJob", self.sagemaker.stop_transform_job, TransformJobName=job_id)

    def console_url(self, job_id: str) -> str:
        """The job's page in the SageMaker console."""
        host = "console.amazonaws.cn" if self.region.startswith("cn-") else "console.aws.amazon.com"
        return (
            f"https://{self.region}.{host}/sagemaker/home?region={self.region}"
            f"#/transform-jobs/{job_id}"
        )


def for_stack(stack: BatchStack) -> AwsBatch:
    """The batch seam of an AWS stack."""
    try:
        return AwsBatch(stack)
    except ModuleNotFoundError as err:
        raise BatchJobError(
            f"batch jobs on aws need the package {err.name!r}: pip install 'inferstack[aws]'"
        ) from err
