"""Runtime settings: read once from the environment at start, then passed around.

Every setting is ``INFERSTACK_<NAME>`` (the names live in ``contract.Env``, which the
deployment side reads too); the SageMaker variables are honoured as fallbacks
(``SAGEMAKER_BIND_TO_PORT``, ``SAGEMAKER_MODEL_SERVER_WORKERS``,
``SAGEMAKER_MODEL_SERVER_TIMEOUT``, ``SM_MODEL_DIR``, ``SAGEMAKER_ENDPOINT_NAME``).
Nothing on the request path reads ``os.environ``.

The environment is read by a few lines here rather than pydantic-settings, whose import
cost about 0.1 s of every start before readiness: names match case-insensitively, the
first of a field's names that is set wins, and values passed to the constructor win over
the environment (as with pydantic-settings).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from inferstack.runtime.contract import ENV_PREFIX, MODEL_DIR, PORT, SEMVER_PATTERN, Env


def _env(name: str, *fallbacks: str) -> AliasChoices:
    return AliasChoices(name, *fallbacks)


class RuntimeSettings(BaseModel):
    """How the server runs; bundle batching settings are overridden when set here.

    ``RuntimeSettings()`` reads the environment; keyword arguments override it.
    """

    model_config = ConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, validate_default=True
    )

    def __init__(self, **values: Any) -> None:
        env = from_environment()
        given = {_field_of(key) for key in values}
        # keyed by the variable's name, so that a bad value's error names the variable
        super().__init__(**{var: v for f, (var, v) in env.items() if f not in given}, **values)

    bundle_dir: Path = Field(Path(MODEL_DIR), validation_alias=_env(Env.BUNDLE_DIR, "SM_MODEL_DIR"))
    model_name: str | None = Field(
        None,
        pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$",  # as a bundle name
        validation_alias=_env(Env.MODEL_NAME),
    )
    model_version: str | None = Field(
        None, pattern=SEMVER_PATTERN, validation_alias=_env(Env.MODEL_VERSION)
    )
    """The version the deployment expects; a bundle of another version refuses to start."""
    environment: Literal["dev", "staging", "prod"] | None = Field(
        None, validation_alias=_env(Env.ENVIRONMENT)
    )
    """A field of every log line and the ``environment`` label of ``inferstack_model_info``."""
    allow_version_mismatch: bool = Field(False, validation_alias=_env(Env.ALLOW_VERSION_MISMATCH))
    """Load a bundle saved under another major version of its framework."""
    allow_pickle: bool = Field(False, validation_alias=_env(Env.ALLOW_PICKLE))
    """Load pickle-based artifacts whose manifest does not record the opt-in (runs their code)."""
    host: str = Field("127.0.0.1", validation_alias=_env(Env.HOST))
    port: int = Field(
        PORT, ge=0, le=65535, validation_alias=_env(Env.PORT, "SAGEMAKER_BIND_TO_PORT")
    )
    workers: int = Field(
        1, ge=1, le=256, validation_alias=_env(Env.WORKERS, "SAGEMAKER_MODEL_SERVER_WORKERS")
    )
    max_batch_size: int | None = Field(
        None, ge=1, le=65536, validation_alias=_env(Env.MAX_BATCH_SIZE)
    )
    max_batch_wait_ms: float | None = Field(
        None, ge=0, le=10_000, validation_alias=_env(Env.MAX_BATCH_WAIT_MS)
    )
    max_request_bytes: int = Field(
        6 * 1024 * 1024, ge=1, validation_alias=_env(Env.MAX_REQUEST_BYTES)
    )
    request_timeout_s: float = Field(
        60.0,
        gt=0,
        validation_alias=_env(Env.REQUEST_TIMEOUT_S, "SAGEMAKER_MODEL_SERVER_TIMEOUT"),
    )
    api_key: str | None = Field(None, repr=False, validation_alias=_env(Env.API_KEY))
    api_key_hashes: str | None = Field(None, validation_alias=_env(Env.API_KEY_HASHES))
    api_key_file: Path | None = Field(None, validation_alias=_env(Env.API_KEY_FILE))
    log_level: str = Field("info", validation_alias=_env(Env.LOG_LEVEL))
    log_sample_rate: float = Field(0.0, ge=0, le=1, validation_alias=_env(Env.LOG_SAMPLE_RATE))
    capture_dir: Path | None = Field(None, validation_alias=_env(Env.CAPTURE_DIR))
    capture_sample_rate: float = Field(
        0.0, ge=0, le=1, validation_alias=_env(Env.CAPTURE_SAMPLE_RATE)
    )
    capture_uri: str | None = Field(
        None,
        pattern=r"^(s3://|gs://|https://)[^\s]+$",
        validation_alias=_env(Env.CAPTURE_URI),
    )
    """Object-store prefix for captured records (``capture_sinks`` documents the layout)."""
    capture_kms_key: str | None = Field(None, validation_alias=_env(Env.CAPTURE_KMS_KEY))
    """KMS key of the S3 sink's SSE-KMS encryption; unset: the bucket's default encryption."""
    capture_flush_records: int = Field(
        1000, ge=1, le=1_000_000, validation_alias=_env(Env.CAPTURE_FLUSH_RECORDS)
    )
    capture_flush_interval_s: float = Field(
        5.0, gt=0, le=3600, validation_alias=_env(Env.CAPTURE_FLUSH_INTERVAL_S)
    )
    capture_queue_records: int = Field(
        10_000, ge=1, le=10_000_000, validation_alias=_env(Env.CAPTURE_QUEUE_RECORDS)
    )
    """Records waiting to be written; past it new records are dropped and counted."""
    quality_window: int = Field(1000, ge=1, le=1_000_000, validation_alias=_env(Env.QUALITY_WINDOW))
    """Joined outcomes the live quality metrics are computed over."""
    feedback_ttl_s: float = Field(86_400.0, gt=0, validation_alias=_env(Env.FEEDBACK_TTL_S))
    """Seconds a captured prediction waits for its outcome."""
    feedback_max_pending: int = Field(
        100_000, ge=1, le=10_000_000, validation_alias=_env(Env.FEEDBACK_MAX_PENDING)
    )
    """Captured predictions kept for joining outcomes (oldest evicted first)."""
    drift: bool = Field(True, validation_alias=_env(Env.DRIFT))
    """Score drift when the bundle has reference profiles; false turns the monitor off."""
    anomaly_check: bool = Field(True, validation_alias=_env(Env.ANOMALY_CHECK))
    """Count anomalous inputs against the reference profiles; false turns the check off."""
    drift_window: int = Field(10_000, ge=10, validation_alias=_env(Env.DRIFT_WINDOW))
    drift_min_rows: int = Field(100, ge=1, validation_alias=_env(Env.DRIFT_MIN_ROWS))
    drift_period_s: float = Field(0.0, ge=0, validation_alias=_env(Env.DRIFT_PERIOD_S))
    """Seconds a drift report is reused before the window is scored again."""
    cloudwatch_emf: bool = Field(False, validation_alias=_env(Env.CLOUDWATCH_EMF))
    cloudwatch_emf_interval_s: float = Field(
        60.0, gt=0, validation_alias=_env(Env.CLOUDWATCH_EMF_INTERVAL_S)
    )
    endpoint_name: str | None = Field(
        None, validation_alias=_env(Env.ENDPOINT_NAME, "SAGEMAKER_ENDPOINT_NAME")
    )
    variant: str | None = Field(None, validation_alias=_env(Env.VARIANT))
    fast_path: bool = Field(True, validation_alias=_env(Env.FAST_PATH))
    timeout_keep_alive_s: float = Field(75.0, gt=0, validation_alias=_env(Env.TIMEOUT_KEEP_ALIVE_S))
    timeout_graceful_shutdown_s: float = Field(
        25.0, gt=0, validation_alias=_env(Env.TIMEOUT_GRACEFUL_SHUTDOWN_S)
    )
    """The SIGTERM drain's bound: below Kubernetes' 30 s grace; then 503s and exit."""
    max_header_bytes: int = Field(32 * 1024, ge=1024, validation_alias=_env(Env.MAX_HEADER_BYTES))
    """Request line and headers together; more is refused with 431."""
    max_headers: int = Field(100, ge=8, validation_alias=_env(Env.MAX_HEADERS))
    """Header lines per request; more is refused with 431."""
    header_timeout_s: float = Field(10.0, gt=0, validation_alias=_env(Env.HEADER_TIMEOUT_S))
    """Seconds a connection has to send a complete request head; then 408 and close."""
    body_timeout_s: float = Field(30.0, gt=0, validation_alias=_env(Env.BODY_TIMEOUT_S))
    """Seconds to receive a whole request body; then 408 and close."""
    max_connections: int = Field(1024, ge=1, validation_alias=_env(Env.MAX_CONNECTIONS))
    """Open connections (or running requests) per worker past which requests get 503."""
    max_request_rows: int = Field(100_000, ge=1, validation_alias=_env(Env.MAX_REQUEST_ROWS))
    """Rows in one request; more is refused with 413."""
    offload_bytes: int = Field(256 * 1024, ge=0, validation_alias=_env(Env.OFFLOAD_BYTES))
    """Bodies of at least this size are decoded and answered in a thread, off the event loop."""
    metrics_auth: bool = Field(False, validation_alias=_env(Env.METRICS_AUTH))
    """Require the API key on ``/metrics`` too (Prometheus sends it as a bearer token)."""
    explain_max_cost: int = Field(200_000, ge=1, validation_alias=_env(Env.EXPLAIN_MAX_COST))
    """Model evaluations one explanation request may cost (see ``explain``); more: 422."""
    explain_samples: int = Field(200, ge=10, validation_alias=_env(Env.EXPLAIN_SAMPLES))
    """Samples per row of the sampling explainer."""
    explain_concurrency: int = Field(1, ge=1, le=64, validation_alias=_env(Env.EXPLAIN_CONCURRENCY))
    """Explanations computed at once, each in its own thread, never on the model's batcher."""
    explain_window: int = Field(1000, ge=1, validation_alias=_env(Env.EXPLAIN_WINDOW))
    """Explained rows the attribution metrics average over."""
    grpc_port: int | None = Field(None, ge=1, le=65535, validation_alias=_env(Env.GRPC_PORT))
    """Serve the V2 gRPC service on this port too (needs the ``grpc`` extra); off unless set."""


def from_environment() -> dict[str, tuple[str, str]]:
    """The settings set in ``os.environ``: field name to (variable, value as a string)."""
    env = {k.lower(): v for k, v in os.environ.items()}
    found: dict[str, tuple[str, str]] = {}
    for name, field in RuntimeSettings.model_fields.items():
        for choice in _choices(name, field.validation_alias):
            value = env.get(choice.lower())
            if value is not None:
                found[name] = (choice, value)
                break
    return found


def _choices(name: str, alias: Any) -> list[str]:
    if isinstance(alias, AliasChoices):
        return [str(c) for c in alias.choices]
    return [ENV_PREFIX + name.upper()]


def _field_of(key: str) -> str:
    """The field a constructor keyword names (a field name or one of its variables)."""
    if key in RuntimeSettings.model_fields:
        return key
    for name, field in RuntimeSettings.model_fields.items():
        if key in _choices(name, field.validation_alias):
            return name
    return key


def env_names() -> frozenset[str]:
    """Every ``INFERSTACK_*`` variable ``RuntimeSettings`` reads."""
    names: set[str] = set()
    for field in RuntimeSettings.model_fields.values():
        alias = field.validation_alias
        choices = alias.choices if isinstance(alias, AliasChoices) else []
        names.update(c for c in choices if isinstance(c, str) and c.startswith(ENV_PREFIX))
    return frozenset(names)
