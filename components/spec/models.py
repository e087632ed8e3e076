"""The target-agnostic deployment spec.

One `DeploymentSpec` describes a model deployment; each target folder turns it
into native resources. Models are frozen and refuse unknown keys. Rules that
involve more than one field (and the target's capabilities from
`inferstack.components.targets`) run in `DeploymentSpec`'s validator, so an
impossible deployment fails before any resource is declared.
"""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonDict
from pydantic_core import ErrorDetails

from inferstack.components.spec.options import CloudTargetOptions, TargetOptions
from inferstack.components.spec.rules import SpecRuleError, check_target_rules
from inferstack.components.targets import get_target, profile, target_names
from inferstack.runtime.contract import (
    DEFAULT_DTYPE,
    QUALITY_HIGHER_IS_BETTER,
    SEMVER_PATTERN,
    DType,
    Framework,
)

Accelerator = Literal["none", "nvidia-t4", "nvidia-a10g", "nvidia-l4", "nvidia-a100", "nvidia-h100"]
Environment = Literal["dev", "staging", "prod"]
AuthMode = Literal["api_key", "jwt", "iam", "none"]
RolloutStrategy = Literal["all_at_once", "canary", "linear", "blue_green"]
QualityMetric = Literal["accuracy", "precision", "recall", "auc", "mae", "rmse"]
ScalingMetric = Literal["invocations_per_instance", "gpu_utilization", "cpu_utilization"]

_NAME = r"^[a-z][a-z0-9-]{0,39}$"
_SEMVER = SEMVER_PATTERN
_ARTIFACT_SCHEMES = ("s3://", "gs://", "azureml://")
# CloudWatch accepts only these retention periods; the other targets accept any.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1827, 3653)

Name = Annotated[str, Field(pattern=_NAME, description="lower-case letters, digits, '-'")]
Percent = Annotated[float, Field(ge=0, le=100)]


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class FeatureSpec(_Spec):
    """One input feature: its name and dtype."""

    name: str = Field(min_length=1, description="Feature name as the model sees it.")
    dtype: DType = Field(DEFAULT_DTYPE, description="Element type.")


class ModelSpec(_Spec):
    """The model to serve: identity, framework and where its artifact lives."""

    name: Name = Field(description="Model name; also names the endpoint's resources.")
    version: str = Field(pattern=_SEMVER, description="Semantic version, e.g. 1.4.0.")
    framework: Framework = Field(description="Serving framework of the artifact.")
    artifact: str = Field(
        description="A bundle folder (local path, relative to the project root) or an "
        "archive URI (s3://, gs://, azureml://).",
    )
    input_schema: tuple[FeatureSpec, ...] | None = Field(
        None,
        description="The input contract: features (name, dtype, in order) the bundle must "
        "accept; checked against a local bundle before anything deploys. The drift "
        "reference profile travels in the bundle.",
    )

    @field_validator("artifact")
    @classmethod
    def _artifact_location(cls, value: str) -> str:
        if not value:
            raise ValueError("must not be empty")
        if "://" in value and not value.startswith(_ARTIFACT_SCHEMES):
            raise ValueError(
                f"unsupported scheme in {value!r}; use a local path or one of "
                f"{', '.join(_ARTIFACT_SCHEMES)}"
            )
        return value


class ComputeSpec(_Spec):
    """Accelerator, instance type and spot capacity."""

    accelerator: Accelerator = Field("none", description="GPU kind, or none for CPU.")
    gpu_count: int = Field(1, ge=1, le=8, description="GPUs per replica when accelerated.")
    spot: bool = Field(False, description="Use spot capacity where the target has it.")
    on_demand_base: int = Field(
        1, ge=0, description="Replicas always on on-demand capacity when spot is on."
    )


class _ReplicaRange(_Spec):
    """A min/max replica pair; min may not exceed max."""

    min_replicas: int
    max_replicas: int

    @model_validator(mode="after")
    def _range(self) -> Self:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas ({self.min_replicas}) is greater than max_replicas "
                f"({self.max_replicas})"
            )
        return self


class ScheduledWindow(_ReplicaRange):
    """A recurring window that pins the replica range, e.g. dev at its minimum at night."""

    name: Name = Field(description="Name of the scheduled action.")
    cron: str = Field(description="Cron expression (5 fields, UTC unless timezone is set).")
    min_replicas: int = Field(ge=0, description="Minimum replicas inside the window.")
    max_replicas: int = Field(ge=0, description="Maximum replicas inside the window.")
    timezone: str = Field("UTC", description="IANA time zone of the cron expression.")

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, value: str) -> str:
        if len(value.split()) != 5:
            raise ValueError(f"expected 5 cron fields (min hour day month weekday), got {value!r}")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/Berlin") from None
        return value


class ScalingSpec(_ReplicaRange):
    """Replica range, the metric autoscaling tracks, cooldowns and scheduled windows."""

    min_replicas: int = Field(1, ge=0, description="Fewest replicas (0 where supported).")
    max_replicas: int = Field(1, ge=1, le=100, description="Most replicas.")
    target_metric: ScalingMetric = Field(
        "invocations_per_instance", description="Metric target tracking holds at target_value."
    )
    target_value: float = Field(100.0, gt=0, description="Value of target_metric to hold.")
    scale_in_cooldown_s: int = Field(300, ge=0, description="Seconds between scale-ins.")
    scale_out_cooldown_s: int = Field(60, ge=0, description="Seconds between scale-outs.")
    schedules: tuple[ScheduledWindow, ...] = Field((), description="Scheduled windows.")


class JwtSpec(_Spec):
    """The token issuer the gateway trusts when auth is jwt."""

    issuer: str = Field(pattern=r"^https://", description="Issuer URL (https).")
    audience: str = Field(min_length=1, description="Expected audience claim.")


class GatewaySpec(_Spec):
    """The API in front of the endpoint: auth, throttling, network and TLS."""

    auth: AuthMode = Field("api_key", description="How callers authenticate.")
    jwt: JwtSpec | None = Field(None, description="Required when auth is jwt.")
    rate_limit_rps: float = Field(100.0, gt=0, description="Steady-state requests per second.")
    burst: int = Field(200, ge=1, description="Requests allowed above the rate in a burst.")
    quota_per_day: int | None = Field(None, ge=1, description="Requests per key per day.")
    allowed_cidrs: tuple[str, ...] = Field((), description="Source CIDRs allowed; empty = any.")
    tls: bool = Field(True, description="Serve HTTPS only.")
    waf: bool = Field(False, description="Attach a web application firewall where supported.")

    @field_validator("allowed_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError as err:
                raise ValueError(f"{cidr!r} is not a CIDR block") from err
        return value

    @model_validator(mode="after")
    def _jwt_settings(self) -> Self:
        if self.auth == "jwt" and self.jwt is None:
            raise ValueError("auth is jwt but gateway.jwt (issuer, audience) is missing")
        if self.burst < self.rate_limit_rps:
            raise ValueError(
                f"burst ({self.burst}) must be at least rate_limit_rps ({self.rate_limit_rps})"
            )
        return self


class AlarmThresholds(_Spec):
    """When alarms fire."""

    p99_latency_ms: float = Field(500.0, gt=0, description="Model latency p99, milliseconds.")
    error_rate_5xx_percent: Percent = Field(1.0, description="Share of 5xx responses.")
    error_rate_4xx_percent: Percent = Field(10.0, description="Share of 4xx responses.")
    drift_score: float = Field(0.2, gt=0, description="Population stability index alarm level.")
    drift_pvalue: float = Field(
        0.01,
        gt=0,
        lt=1,
        description="Input drift alarms when a feature's KS / chi-squared p-value is below this.",
    )
    prediction_drift_score: float = Field(
        0.2, gt=0, description="PSI of the predictions against the reference's that alarms."
    )
    quality_metric: QualityMetric | None = Field(
        None,
        description="Live quality metric the quality alarm watches (none: no quality alarm).",
    )
    quality_threshold: float | None = Field(
        None,
        description="Its alarm level: a floor for accuracy, precision, recall and auc, "
        "a ceiling for mae and rmse.",
    )
    quality_min_samples: int = Field(
        100, ge=1, description="Joined outcomes needed before the quality alarm may fire."
    )
    cpu_utilization_percent: Percent = Field(85.0, description="Instance CPU utilisation.")
    gpu_utilization_percent: Percent = Field(90.0, description="GPU utilisation.")
    memory_utilization_percent: Percent = Field(90.0, description="Instance memory use.")

    @model_validator(mode="after")
    def _quality(self) -> Self:
        metric, level = self.quality_metric, self.quality_threshold
        if (metric is None) != (level is None):
            raise ValueError("quality_metric and quality_threshold go together; set both or none")
        if metric is None or level is None:
            return self
        if metric in QUALITY_HIGHER_IS_BETTER and not 0 < level <= 1:
            raise ValueError(f"quality_threshold for {metric} is a floor in (0, 1], got {level}")
        if metric not in QUALITY_HIGHER_IS_BETTER and level <= 0:
            raise ValueError(f"quality_threshold for {metric} is a ceiling above 0, got {level}")
        return self

    @property
    def quality_floor(self) -> bool:
        """Whether the quality alarm fires below its threshold (else above it)."""
        return self.quality_metric in QUALITY_HIGHER_IS_BETTER


class RetrainingSpec(_Spec):
    """Where drift and quality alarms ask for retraining (nowhere by default)."""

    event_bus: bool = Field(
        False,
        description="Send the retraining event to the cloud's bus: EventBridge (aws), "
        "Pub/Sub (gcp); refused on azure (action groups have no Event Grid receiver).",
    )
    webhook_url_secret: str | None = Field(
        None,
        pattern=r"^[A-Za-z][A-Za-z0-9_:.-]{0,99}$",
        description="Name of the Pulumi config secret holding the webhook URL the alarms call.",
    )
    webhook_auth_secret: str | None = Field(
        None,
        pattern=r"^[A-Za-z][A-Za-z0-9_:.-]{0,99}$",
        description="Name of the Pulumi config secret holding the webhook's Authorization "
        "header (e.g. 'Bearer <token>' for GitHub's repository_dispatch).",
    )

    @model_validator(mode="after")
    def _auth_needs_url(self) -> Self:
        if self.webhook_auth_secret and not self.webhook_url_secret:
            raise ValueError("webhook_auth_secret needs webhook_url_secret")
        return self

    @property
    def enabled(self) -> bool:
        """Whether any alarm notifies for retraining."""
        return self.event_bus or self.webhook_url_secret is not None


class ObservabilitySpec(_Spec):
    """Logs, alarms, notifications, dashboard, data capture and the retraining hook."""

    log_retention_days: int = Field(30, description="Days logs are kept.")
    alarms: AlarmThresholds = Field(default_factory=AlarmThresholds, description="Thresholds.")
    notify_emails: tuple[str, ...] = Field((), description="Addresses alarms notify.")
    dashboard: bool = Field(True, description="Create a metrics dashboard.")
    data_capture_percent: Percent = Field(0.0, description="Share of requests captured.")
    retraining: RetrainingSpec = Field(
        default_factory=RetrainingSpec,
        description="Where drift and quality alarms ask for retraining.",
    )

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
            raise ValueError(f"{value} is not an allowed retention; use one of {allowed}")
        return value

    @field_validator("notify_emails")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for email in value:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
                raise ValueError(f"{email!r} is not an e-mail address")
        return value


class VariantSpec(_Spec):
    """An extra production variant for A/B tests: its own model version and weight."""

    name: Name = Field(description="Variant name.")
    model_version: str = Field(pattern=_SEMVER, description="Model version it serves.")
    artifact: str | None = Field(None, description="Artifact of that version; default: model's.")
    weight: float = Field(ge=0, description="Relative traffic weight.")
    replicas: int = Field(1, ge=1, description="Initial replicas of this variant.")


class RolloutSpec(_Spec):
    """How a new version replaces the old one, and A/B variants."""

    strategy: RolloutStrategy = Field("all_at_once", description="Traffic shifting strategy.")
    canary_percent: float = Field(10.0, gt=0, lt=100, description="Canary traffic share.")
    linear_step_percent: float = Field(20.0, gt=0, lt=100, description="Linear step size.")
    bake_time_s: int = Field(600, ge=0, le=3600, description="Seconds to watch alarms per step.")
    auto_rollback: bool = Field(True, description="Roll back when rollback alarms fire.")
    primary_weight: float = Field(1.0, ge=0, description="Weight of the main variant in A/B.")
    variants: tuple[VariantSpec, ...] = Field((), description="Extra A/B variants.")

    @model_validator(mode="after")
    def _weights(self) -> Self:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique, got {names}")
        if self.variants and self.primary_weight + sum(v.weight for v in self.variants) <= 0:
            raise ValueError("variant weights (primary_weight + variants) must sum to > 0")
        return self


# Keys that moved under `targets.<target>`, and where they went.
_MOVED = {
    ("compute", "aws"): "targets.aws",
    ("compute", "instance_type"): "targets.<target>.instance_type",
    ("local",): "targets.local",
}


def _moved_key(data: Mapping[str, Any]) -> tuple[str, str] | None:
    for path, target in _MOVED.items():
        value: Any = data
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
        if value is not None:
            return ".".join(path), target
    return None


def _targets_schema(schema: JsonDict) -> None:
    """The `targets` mapping's JSON Schema: one typed property per registered target."""
    schema.clear()
    schema.update(
        {
            "type": "object",
            "description": "Settings only one target reads, under its name.",
            "additionalProperties": False,
            "properties": {
                name: get_target(name).options.model_json_schema() for name in target_names()
            },
        }
    )


def _problem(error: ErrorDetails) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        return "unknown key"
    got = error.get("input")
    return message if isinstance(got, dict | list) else f"{message} (got {got!r})"


class DeploymentSpec(_Spec):
    """A complete model deployment on one target."""

    target: str = Field(
        description="The target's name: local, aws, azure or gcp (or one registered by a plugin).",
        json_schema_extra=lambda schema: schema.update(enum=list(target_names())),
    )
    environment: Environment = Field("dev", description="Environment; prod tightens rules.")
    region: str | None = Field(None, description="Cloud region; default from the target table.")
    model: ModelSpec = Field(description="The model.")
    compute: ComputeSpec = Field(default_factory=ComputeSpec, description="Capacity.")
    scaling: ScalingSpec = Field(default_factory=ScalingSpec, description="Autoscaling.")
    gateway: GatewaySpec = Field(default_factory=GatewaySpec, description="API gateway.")
    observability: ObservabilitySpec = Field(
        default_factory=ObservabilitySpec, description="Logs, alarms, dashboard."
    )
    rollout: RolloutSpec = Field(default_factory=RolloutSpec, description="Rollout.")
    tags: dict[str, str] = Field(default_factory=dict, description="Tags on every resource.")
    targets: dict[str, SerializeAsAny[TargetOptions]] = Field(
        default_factory=dict,
        description="Settings of the spec's own target, under its name (targets.aws: ...).",
        json_schema_extra=_targets_schema,
    )

    @model_validator(mode="before")
    @classmethod
    def _no_moved_keys(cls, data: Any) -> Any:
        moved = _moved_key(data) if isinstance(data, Mapping) else None
        if moved:
            raise SpecRuleError(moved[0], f"moved to {moved[1]}; set it there")
        return data

    @field_validator("target")
    @classmethod
    def _known_target(cls, value: str) -> str:
        if value not in target_names():
            raise ValueError(f"unknown target {value!r}; use one of {', '.join(target_names())}")
        return value

    @field_validator("targets", mode="before")
    @classmethod
    def _typed_target_settings(cls, value: Any) -> Any:
        """Each target's settings validated by that target's own options model."""
        if not isinstance(value, Mapping):
            return value  # pydantic names the type error
        typed: dict[str, Any] = {}
        for name, settings in value.items():
            if name not in target_names():
                raise SpecRuleError(
                    f"targets.{name}",
                    f"unknown target; settings go under one of {', '.join(target_names())}",
                )
            model = get_target(name).options
            if isinstance(settings, model):
                typed[name] = settings
                continue
            try:
                typed[name] = model.model_validate(settings if settings is not None else {})
            except ValidationError as err:
                first = err.errors()[0]
                where = ".".join(str(part) for part in ("targets", name, *first["loc"]))
                raise SpecRuleError(where, _problem(first)) from None
        return typed

    @model_validator(mode="after")
    def _fits_target(self) -> Self:
        check_target_rules(self)
        return self

    @property
    def options(self) -> TargetOptions:
        """The settings of the spec's target: `targets.<target>`, else its defaults."""
        return self.targets.get(self.target) or get_target(self.target).options()

    def instance_type_override(self) -> str | None:
        """The instance type the target's settings name, if any."""
        options = self.options
        return options.instance_type if isinstance(options, CloudTargetOptions) else None

    @property
    def resolved_region(self) -> str | None:
        """The region to deploy to: the spec's, else the target's default."""
        return self.region or profile(self.target).default_region

    def instance_type(self) -> str:
        """The instance type for this target: the override, else the table's default."""
        override = self.instance_type_override()
        return override or profile(self.target).instance_types[self.compute.accelerator]
