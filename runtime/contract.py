"""The contract between the inference runtime and everything that deploys or watches it.

Standard library only: the runtime image, the deployment spec, the target components,
the alert rules and the dashboards all import this one module, so a name used on one
side is the name read on the other. `tests/unit/test_contract.py` checks that every
environment variable a component sets is one the runtime reads.
"""

from __future__ import annotations

from typing import Final, Literal

# --- Models ----------------------------------------------------------------------------

Framework = Literal["sklearn", "xgboost", "lightgbm", "onnx", "pytorch", "custom"]
FRAMEWORKS: Final[tuple[Framework, ...]] = (
    "sklearn",
    "xgboost",
    "lightgbm",
    "onnx",
    "pytorch",
    "custom",
)

DType = Literal["float32", "float64", "int32", "int64", "bool", "string"]
DTYPES: Final[tuple[DType, ...]] = ("float32", "float64", "int32", "int64", "bool", "string")
DEFAULT_DTYPE: Final[DType] = "float64"
"""The dtype of a feature that names none, in the spec and in a bundle's manifest."""

SEMVER_PATTERN: Final = (
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$"
)
"""A model version: semantic versioning 2.0 (1.4.0, 2.0.0-rc.1)."""

MANIFEST_FILE: Final = "inferstack.yaml"
"""The file that makes a folder a bundle."""

# --- The container -----------------------------------------------------------------------

PORT: Final = 8080
"""The port the runtime listens on inside its container (SageMaker's)."""
MODEL_DIR: Final = "/opt/ml/model"
"""Where the container finds its bundle unless INFERSTACK_BUNDLE_DIR says otherwise."""
ENV_PREFIX: Final = "INFERSTACK_"


class Env:
    """Environment variables the runtime reads at start (`RuntimeSettings`)."""

    BUNDLE_DIR: Final = "INFERSTACK_BUNDLE_DIR"
    MODEL_NAME: Final = "INFERSTACK_MODEL_NAME"
    MODEL_VERSION: Final = "INFERSTACK_MODEL_VERSION"
    """The version the deployment expects; the runtime refuses a bundle of another."""
    ENVIRONMENT: Final = "INFERSTACK_ENVIRONMENT"
    """dev, staging or prod: a field of every log line and a label of model_info."""
    HOST: Final = "INFERSTACK_HOST"
    PORT: Final = "INFERSTACK_PORT"
    WORKERS: Final = "INFERSTACK_WORKERS"
    API_KEY: Final = "INFERSTACK_API_KEY"
    API_KEY_HASHES: Final = "INFERSTACK_API_KEY_HASHES"
    API_KEY_FILE: Final = "INFERSTACK_API_KEY_FILE"
    CAPTURE_DIR: Final = "INFERSTACK_CAPTURE_DIR"
    CAPTURE_SAMPLE_RATE: Final = "INFERSTACK_CAPTURE_SAMPLE_RATE"
    CAPTURE_URI: Final = "INFERSTACK_CAPTURE_URI"
    """Object-store destination of captured records: s3://, gs:// or https://*.blob.core...."""
    CAPTURE_KMS_KEY: Final = "INFERSTACK_CAPTURE_KMS_KEY"
    """KMS key (id or ARN) the S3 capture sink encrypts objects with (SSE-KMS)."""
    CAPTURE_FLUSH_RECORDS: Final = "INFERSTACK_CAPTURE_FLUSH_RECORDS"
    """Records that make the capture writer flush a batch before its interval ends."""
    CAPTURE_FLUSH_INTERVAL_S: Final = "INFERSTACK_CAPTURE_FLUSH_INTERVAL_S"
    """Seconds the capture writer waits at most before flushing what it holds."""
    CAPTURE_QUEUE_RECORDS: Final = "INFERSTACK_CAPTURE_QUEUE_RECORDS"
    """Records the capture queue holds; more are dropped and counted, never waited for."""
    QUALITY_WINDOW: Final = "INFERSTACK_QUALITY_WINDOW"
    """Joined outcomes the live quality metrics are computed over."""
    FEEDBACK_TTL_S: Final = "INFERSTACK_FEEDBACK_TTL_S"
    """Seconds a captured prediction waits for its outcome; later outcomes count as late."""
    FEEDBACK_MAX_PENDING: Final = "INFERSTACK_FEEDBACK_MAX_PENDING"
    """Captured predictions kept for joining; the oldest go first past this bound."""
    ENDPOINT_NAME: Final = "INFERSTACK_ENDPOINT_NAME"
    VARIANT: Final = "INFERSTACK_VARIANT"
    CLOUDWATCH_EMF: Final = "INFERSTACK_CLOUDWATCH_EMF"
    CLOUDWATCH_EMF_INTERVAL_S: Final = "INFERSTACK_CLOUDWATCH_EMF_INTERVAL_S"
    MAX_BATCH_SIZE: Final = "INFERSTACK_MAX_BATCH_SIZE"
    MAX_BATCH_WAIT_MS: Final = "INFERSTACK_MAX_BATCH_WAIT_MS"
    MAX_REQUEST_BYTES: Final = "INFERSTACK_MAX_REQUEST_BYTES"
    REQUEST_TIMEOUT_S: Final = "INFERSTACK_REQUEST_TIMEOUT_S"
    LOG_LEVEL: Final = "INFERSTACK_LOG_LEVEL"
    LOG_SAMPLE_RATE: Final = "INFERSTACK_LOG_SAMPLE_RATE"
    DRIFT_WINDOW: Final = "INFERSTACK_DRIFT_WINDOW"
    DRIFT_MIN_ROWS: Final = "INFERSTACK_DRIFT_MIN_ROWS"
    DRIFT: Final = "INFERSTACK_DRIFT"
    """Score drift when the bundle has reference profiles (true); false turns it off."""
    ANOMALY_CHECK: Final = "INFERSTACK_ANOMALY_CHECK"
    """Count anomalous inputs against the reference profiles (true); false turns it off."""
    DRIFT_PERIOD_S: Final = "INFERSTACK_DRIFT_PERIOD_S"
    """Seconds a computed drift report is reused before the window is scored again."""
    FAST_PATH: Final = "INFERSTACK_FAST_PATH"
    TIMEOUT_KEEP_ALIVE_S: Final = "INFERSTACK_TIMEOUT_KEEP_ALIVE_S"
    TIMEOUT_GRACEFUL_SHUTDOWN_S: Final = "INFERSTACK_TIMEOUT_GRACEFUL_SHUTDOWN_S"
    MAX_HEADER_BYTES: Final = "INFERSTACK_MAX_HEADER_BYTES"
    MAX_HEADERS: Final = "INFERSTACK_MAX_HEADERS"
    HEADER_TIMEOUT_S: Final = "INFERSTACK_HEADER_TIMEOUT_S"
    BODY_TIMEOUT_S: Final = "INFERSTACK_BODY_TIMEOUT_S"
    MAX_CONNECTIONS: Final = "INFERSTACK_MAX_CONNECTIONS"
    MAX_REQUEST_ROWS: Final = "INFERSTACK_MAX_REQUEST_ROWS"
    OFFLOAD_BYTES: Final = "INFERSTACK_OFFLOAD_BYTES"
    METRICS_AUTH: Final = "INFERSTACK_METRICS_AUTH"
    GRPC_PORT: Final = "INFERSTACK_GRPC_PORT"
    """The V2 gRPC service's port (one worker; needs inferstack[grpc]); off unless set."""
    ALLOW_VERSION_MISMATCH: Final = "INFERSTACK_ALLOW_VERSION_MISMATCH"
    """Load a bundle saved under another major version of its framework (at your risk)."""
    ALLOW_PICKLE: Final = "INFERSTACK_ALLOW_PICKLE"
    """Load pickle-based artifacts the bundle did not opt in to (loading a pickle runs code)."""
    EXPLAIN_MAX_COST: Final = "INFERSTACK_EXPLAIN_MAX_COST"
    """Model evaluations one /explain request may cost; more is refused with 422."""
    EXPLAIN_SAMPLES: Final = "INFERSTACK_EXPLAIN_SAMPLES"
    """Samples per row of the sampling explainer (models without a tree or linear one)."""
    EXPLAIN_CONCURRENCY: Final = "INFERSTACK_EXPLAIN_CONCURRENCY"
    """Explanations computed at once, in their own threads (never the model's batcher)."""
    EXPLAIN_WINDOW: Final = "INFERSTACK_EXPLAIN_WINDOW"
    """Explained rows the attribution metrics average over."""


class Routes:
    """HTTP routes of the runtime, by contract."""

    PING: Final = "/ping"
    INVOCATIONS: Final = "/invocations"
    LIVE: Final = "/live"
    READY: Final = "/ready"
    SCORE: Final = "/score"
    PREDICT: Final = "/predict"
    V2_LIVE: Final = "/v2/health/live"
    V2_READY: Final = "/v2/health/ready"
    V2_MODEL: Final = "/v2/models/{name}"
    V2_INFER: Final = "/v2/models/{name}/infer"
    METRICS: Final = "/metrics"
    EXPLAIN: Final = "/explain"
    V1_EXPLAIN: Final = "/v1/models/{name}:explain"
    """KServe V1's explain verb (the V2 protocol defines no explain route)."""
    FEEDBACK: Final = "/feedback"
    """Ground-truth outcomes for earlier requests, by request id (live quality)."""


REQUEST_ID_HEADER: Final = "X-Request-Id"
"""The response header that carries a request's id (the key of its captured record)."""


INFERENCE_ROUTES: Final = (Routes.INVOCATIONS, Routes.PREDICT, Routes.SCORE, Routes.V2_INFER)
"""The routes that run the model (the `route` label of the request metrics)."""


class Metric:
    """Prometheus metric names the runtime exports (counters gain `_total` on the wire)."""

    REQUEST_DURATION: Final = "inferstack_request_duration_seconds"
    REQUESTS: Final = "inferstack_requests"
    ERRORS: Final = "inferstack_errors"
    BATCH_SIZE: Final = "inferstack_batch_size"
    QUEUE_DEPTH: Final = "inferstack_queue_depth"
    INFLIGHT: Final = "inferstack_inflight_requests"
    MODEL_LOAD_SECONDS: Final = "inferstack_model_load_seconds"
    MODEL_INFO: Final = "inferstack_model_info"
    DRIFT_SCORE: Final = "inferstack_drift_score"
    DRIFT_STATISTIC: Final = "inferstack_drift_statistic"
    DRIFT_PVALUE: Final = "inferstack_drift_pvalue"
    PREDICTION_DRIFT_SCORE: Final = "inferstack_prediction_drift_score"
    PREDICTION_DRIFT_STATISTIC: Final = "inferstack_prediction_drift_statistic"
    PREDICTION_DRIFT_PVALUE: Final = "inferstack_prediction_drift_pvalue"
    DRAIN_REFUSED: Final = "inferstack_drain_refused"
    ANOMALY_CHECKED_VALUES: Final = "inferstack_anomaly_checked_values"
    """Counter: input values compared with the reference (label ``check``: range, category)."""
    ANOMALOUS_VALUES: Final = "inferstack_anomalous_values"
    """Counter: values outside the reference range or of an unseen category, by feature."""
    STEP_DURATION: Final = "inferstack_step_duration_seconds"
    """Histogram: latency of each part of a composed model (label ``step``)."""
    ATTRIBUTION_MEAN_ABS: Final = "inferstack_attribution_mean_abs"
    """Gauge: mean absolute attribution per feature over the last explained rows."""
    ATTRIBUTION_SHARE: Final = "inferstack_attribution_share"
    """Gauge: a feature's share of the summed mean absolute attributions."""
    ATTRIBUTION_SHARE_SHIFT: Final = "inferstack_attribution_share_shift"
    """Gauge: how far a feature's attribution share moved from its share on the reference."""
    ANOMALY_CHECKED_REQUESTS: Final = "inferstack_anomaly_checked_requests"
    ANOMALOUS_REQUESTS: Final = "inferstack_anomalous_requests"
    """Counter: requests holding at least one anomalous value."""
    CAPTURE_WRITTEN: Final = "inferstack_capture_written_records"
    """Counter: captured records the sink stored (label ``sink``: file, s3, gcs, azure)."""
    CAPTURE_DROPPED: Final = "inferstack_capture_dropped_records"
    """Counter: captured records lost (labels ``sink`` and ``reason``: queue_full, sink_error)."""
    FEEDBACK_OUTCOMES: Final = "inferstack_feedback_outcomes"
    """Counter: outcomes posted to /feedback (label ``result``: joined, unknown, late, invalid)."""
    QUALITY: Final = "inferstack_quality"
    """Gauge: live quality over the joined outcomes (label ``metric``, see QUALITY_METRICS)."""
    QUALITY_SAMPLES: Final = "inferstack_quality_samples"
    """Gauge: joined outcomes in the quality window."""


QUALITY_METRICS: Final = ("accuracy", "precision", "recall", "auc", "mae", "rmse")
"""Live quality metrics: the first four for classifiers, the last two for regressors."""
QUALITY_HIGHER_IS_BETTER: Final = frozenset({"accuracy", "precision", "recall", "auc"})

CLOUDWATCH_NAMESPACE: Final = "inferstack"
"""Namespace of the runtime's CloudWatch metrics (EMF lines on stdout)."""
CLOUDWATCH_QUALITY_METRIC: Final = "Quality.{metric}"
"""CloudWatch metric name of a live quality metric (dimensions EndpointName, VariantName)."""
CLOUDWATCH_QUALITY_SAMPLES_METRIC: Final = "QualitySamples"
"""CloudWatch metric (and EMF field) of the joined outcomes the quality metrics are over."""

RETRAIN_EVENT_SOURCE: Final = "inferstack"
"""EventBridge source (and CloudEvents source) of the retraining event."""
RETRAIN_EVENT_TYPE: Final = "inferstack.model.retrain-requested"
"""Detail-type / CloudEvents type of the event an acting drift or quality alarm sends."""
RETRAIN_EVENT_VERSION: Final = "1"
"""Version of the retraining event's payload (docs/monitoring.md describes each)."""


def public_names(cls: type) -> dict[str, str]:
    """The upper-case constants of one of the classes above, by attribute name."""
    return {k: v for k, v in vars(cls).items() if k.isupper() and isinstance(v, str)}


RUNTIME_ENV: Final = frozenset(public_names(Env).values())
"""Every environment variable the runtime reads."""
