"""Runtime settings: read once from the environment at start, then passed around.

Every setting is ``INFERSTACK_<NAME>``; the SageMaker variables are honoured as
fallbacks (``SAGEMAKER_BIND_TO_PORT``, ``SAGEMAKER_MODEL_SERVER_WORKERS``,
``SAGEMAKER_MODEL_SERVER_TIMEOUT``, ``SM_MODEL_DIR``, ``SAGEMAKER_ENDPOINT_NAME``).
Nothing on the request path reads ``os.environ``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _env(name: str, *fallbacks: str) -> AliasChoices:
    return AliasChoices(f"INFERSTACK_{name}", *fallbacks)


class RuntimeSettings(BaseSettings):
    """How the server runs; bundle batching settings are overridden when set here."""

    model_config = SettingsConfigDict(
        env_prefix="INFERSTACK_", extra="ignore", frozen=True, populate_by_name=True
    )

    bundle_dir: Path = Field(
        Path("/opt/ml/model"), validation_alias=_env("BUNDLE_DIR", "SM_MODEL_DIR")
    )
    model_name: str | None = Field(None, pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")  # as a bundle name
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535, validation_alias=_env("PORT", "SAGEMAKER_BIND_TO_PORT"))
    workers: int = Field(
        1, ge=1, le=256, validation_alias=_env("WORKERS", "SAGEMAKER_MODEL_SERVER_WORKERS")
    )
    max_batch_size: int | None = Field(None, ge=1, le=65536)
    max_batch_wait_ms: float | None = Field(None, ge=0, le=10_000)
    max_request_bytes: int = Field(6 * 1024 * 1024, ge=1)
    request_timeout_s: float = Field(
        60.0, gt=0, validation_alias=_env("REQUEST_TIMEOUT_S", "SAGEMAKER_MODEL_SERVER_TIMEOUT")
    )
    api_key: str | None = Field(None, repr=False)
    api_key_hashes: str | None = None
    api_key_file: Path | None = None
    log_level: str = "info"
    log_sample_rate: float = Field(0.0, ge=0, le=1)
    capture_dir: Path | None = None
    capture_sample_rate: float = Field(0.0, ge=0, le=1)
    drift_window: int = Field(10_000, ge=10)
    drift_min_rows: int = Field(100, ge=1)
    cloudwatch_emf: bool = False
    cloudwatch_emf_interval_s: float = Field(60.0, gt=0)
    endpoint_name: str | None = Field(
        None, validation_alias=_env("ENDPOINT_NAME", "SAGEMAKER_ENDPOINT_NAME")
    )
    variant: str | None = None
    fast_path: bool = True
    timeout_keep_alive_s: float = Field(75.0, gt=0)
    timeout_graceful_shutdown_s: float | None = Field(None, gt=0)
