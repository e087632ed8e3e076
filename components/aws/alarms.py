"""The CloudWatch alarms of a deployment, as plain data.

`alarm_definitions` says every alarm (name, metric, threshold) from the spec and
the fixed names; `Observability` declares them. The endpoint's latency and
error-rate alarms double as the blue/green rollback alarms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from inferstack.components.aws.common import (
    DRIFT_METRIC,
    RUNTIME_NAMESPACE,
    SAGEMAKER_NAMESPACE,
    Names,
)
from inferstack.components.aws.rules import aws_options
from inferstack.components.monitoring.retrain_event import RetrainReason
from inferstack.components.spec.models import DeploymentSpec
from inferstack.components.targets import profile
from inferstack.runtime.contract import (
    CLOUDWATCH_QUALITY_METRIC,
    CLOUDWATCH_QUALITY_SAMPLES_METRIC,
)

# API Gateway's latency includes the model's; allow this much on top of the model's p99.
GATEWAY_OVERHEAD_MS = 100.0


@dataclass(frozen=True)
class AlarmDefinition:
    """One alarm: its name, what it watches and when it fires."""

    name: str
    description: str
    threshold: float
    rollback: bool = False
    """Whether a breach during a rollout rolls the endpoint back."""
    metric: dict[str, Any] = field(default_factory=dict)
    """MetricAlarm arguments of a single-metric alarm (namespace, metric_name, ...)."""
    queries: list[dict[str, Any]] = field(default_factory=list)
    """MetricAlarm `metric_queries` of a metric-math alarm."""
    evaluation_periods: int = 5
    """Minutes looked at."""
    datapoints_to_alarm: int = 3
    """Of those, how many must breach (1 for events such as a spot notice)."""
    comparison: str = "GreaterThanThreshold"
    """How the metric compares with the threshold (LessThanThreshold for a floor)."""
    retrain: RetrainReason | None = None
    """Why this alarm asks for retraining when the spec's retraining hook is on (None: never)."""


def _dims(names: Names, variant: str) -> dict[str, str]:
    return {"EndpointName": names.endpoint, "VariantName": variant}


def _rate(names: Names, variant: str, errors: str) -> list[dict[str, Any]]:
    def metric(id_: str, metric_name: str) -> dict[str, Any]:
        return {
            "id": id_,
            "return_data": False,
            "metric": {
                "namespace": "AWS/SageMaker",
                "metric_name": metric_name,
                "period": 60,
                "stat": "Sum",
                "dimensions": _dims(names, variant),
            },
        }

    return [
        metric("errors", errors),
        metric("invocations", "Invocations"),
        {
            "id": "rate",
            "return_data": True,
            "label": f"{errors} %",
            "expression": "IF(invocations > 0, 100 * errors / invocations, 0)",
        },
    ]


def _usage_alarms(spec: DeploymentSpec, names: Names, variant: str) -> list[AlarmDefinition]:
    """CPU, memory and GPU alarms at the spec's percent of the whole instance.

    SageMaker sums CPUUtilization over the instance's vCPUs and GPUUtilization over its
    GPUs (0-100 x count), so those thresholds are the spec's percent times the count.
    """
    limits = spec.observability.alarms
    size = profile("aws").instance_size(spec.instance_type())

    def alarm(what: str, metric: str, threshold: float, share: str) -> AlarmDefinition:
        return AlarmDefinition(
            names.alarm(what, variant),
            f"{variant}: {metric} above {share} (above {threshold:g})",
            threshold,
            metric={
                "namespace": SAGEMAKER_NAMESPACE,
                "metric_name": metric,
                "statistic": "Average",
                "dimensions": _dims(names, variant),
            },
        )

    cpu, memory = limits.cpu_utilization_percent, limits.memory_utilization_percent
    out = [
        alarm("cpu", "CPUUtilization", cpu * size.vcpus, f"{cpu:g}% of {size.vcpus} vCPUs"),
        # MemoryUtilization is already a percent of the instance's memory (0-100).
        alarm("memory", "MemoryUtilization", memory, f"{memory:g}% of memory"),
    ]
    if spec.compute.accelerator != "none" and size.gpus:
        gpu = limits.gpu_utilization_percent
        out.append(alarm("gpu", "GPUUtilization", gpu * size.gpus, f"{gpu:g}% of {size.gpus} GPUs"))
    return out


# The runtime's EMF names (runtime/emf.py; a test keeps them equal without importing the
# runtime's numeric stack into the stack program).
PVALUE_METRIC = "DriftPValue"
PREDICTION_METRIC = "PredictionDriftScore"
PREDICTION_PVALUE_METRIC = "PredictionDriftPValue"
QUALITY_SAMPLES_METRIC = CLOUDWATCH_QUALITY_SAMPLES_METRIC
"""CloudWatch name of the joined-outcome count the quality alarm gates on."""


def _runtime_metric(names: Names, variant: str, metric: str, stat: str) -> dict[str, Any]:
    return {
        "namespace": RUNTIME_NAMESPACE,
        "metric_name": metric,
        "statistic": stat,
        "dimensions": _dims(names, variant),
    }


def drift_alarms(spec: DeploymentSpec, names: Names, variant: str) -> list[AlarmDefinition]:
    """Input drift (highest feature PSI, lowest feature p-value) and prediction drift.

    Not rollback alarms: drift is the traffic's doing, not the new model's. Each worker
    prints its own EMF line, so a score alarm takes their maximum, a p-value their minimum.
    """
    limits = spec.observability.alarms
    psi, p, pred = limits.drift_score, limits.drift_pvalue, limits.prediction_drift_score
    return [
        AlarmDefinition(
            names.alarm("drift", variant),
            f"{variant}: input drift (PSI of the most shifted feature) above {psi:g}",
            psi,
            metric=_runtime_metric(names, variant, DRIFT_METRIC, "Maximum"),
            retrain="drift",
        ),
        AlarmDefinition(
            names.alarm("drift-pvalue", variant),
            f"{variant}: input drift (smallest feature KS / chi-squared p-value) below {p:g}",
            p,
            metric=_runtime_metric(names, variant, PVALUE_METRIC, "Minimum"),
            comparison="LessThanThreshold",
            retrain="drift",
        ),
        AlarmDefinition(
            names.alarm("prediction-drift", variant),
            f"{variant}: prediction drift (PSI of the predictions) above {pred:g}",
            pred,
            metric=_runtime_metric(names, variant, PREDICTION_METRIC, "Maximum"),
            retrain="prediction_drift",
        ),
        AlarmDefinition(
            names.alarm("prediction-drift-pvalue", variant),
            f"{variant}: prediction drift (p-value of the predictions' test) below {p:g}",
            p,
            metric=_runtime_metric(names, variant, PREDICTION_PVALUE_METRIC, "Minimum"),
            comparison="LessThanThreshold",
            retrain="prediction_drift",
        ),
    ]


def quality_alarm(spec: DeploymentSpec, names: Names, variant: str) -> list[AlarmDefinition]:
    """Live quality past the spec's level, counted only over enough joined outcomes.

    The expression is empty (no datapoint) while fewer than `quality_min_samples`
    outcomes are joined, so missing data (notBreaching) keeps the alarm quiet.
    """
    limits = spec.observability.alarms
    metric, level = limits.quality_metric, limits.quality_threshold
    if metric is None or level is None:
        return []
    floor = limits.quality_floor
    worst = "Minimum" if floor else "Maximum"

    def query(id_: str, name: str, stat: str) -> dict[str, Any]:
        return {
            "id": id_,
            "return_data": False,
            "metric": {
                "namespace": RUNTIME_NAMESPACE,
                "metric_name": name,
                "period": 60,
                "stat": stat,
                "dimensions": _dims(names, variant),
            },
        }

    n = limits.quality_min_samples
    side = "below" if floor else "above"
    return [
        AlarmDefinition(
            names.alarm("quality", variant),
            f"{variant}: live {metric} {side} {level:g} (over at least {n} joined outcomes)",
            level,
            queries=[
                query("quality", CLOUDWATCH_QUALITY_METRIC.format(metric=metric), worst),
                query("samples", QUALITY_SAMPLES_METRIC, "Minimum"),
                {
                    "id": "gated",
                    "return_data": True,
                    "label": f"{metric} over >= {n} outcomes",
                    "expression": f"IF(samples >= {n}, quality)",
                },
            ],
            comparison="LessThanThreshold" if floor else "GreaterThanThreshold",
            retrain="quality",
        ),
    ]


def alarm_definitions(spec: DeploymentSpec, names: Names) -> list[AlarmDefinition]:
    """Every alarm of the deployment: per variant, then the gateway's."""
    limits = spec.observability.alarms
    instances = aws_options(spec).mode != "serverless"
    out: list[AlarmDefinition] = []
    for variant in names.variants:
        out += [
            AlarmDefinition(
                names.alarm("latency-p99", variant),
                f"{variant}: model latency p99 above {limits.p99_latency_ms} ms",
                limits.p99_latency_ms * 1000,
                rollback=True,  # ModelLatency is in microseconds
                metric={
                    "namespace": "AWS/SageMaker",
                    "metric_name": "ModelLatency",
                    "extended_statistic": "p99",
                    "dimensions": _dims(names, variant),
                },
            ),
            AlarmDefinition(
                names.alarm("5xx-rate", variant),
                f"{variant}: more than {limits.error_rate_5xx_percent}% of invocations fail (5xx)",
                limits.error_rate_5xx_percent,
                rollback=True,
                queries=_rate(names, variant, "Invocation5XXErrors"),
            ),
            AlarmDefinition(
                names.alarm("4xx-rate", variant),
                f"{variant}: more than {limits.error_rate_4xx_percent}% of requests are 4xx",
                limits.error_rate_4xx_percent,
                queries=_rate(names, variant, "Invocation4XXErrors"),
            ),
        ]
        out += drift_alarms(spec, names, variant) + quality_alarm(spec, names, variant)
        if not instances:
            continue
        out += _usage_alarms(spec, names, variant)
    out += gateway_alarms(spec, names)
    return out


def gateway_alarms(spec: DeploymentSpec, names: Names) -> list[AlarmDefinition]:
    """The API's 5xx share and latency alarms (the same in every AWS mode)."""
    limits = spec.observability.alarms
    api = {"ApiName": names.api, "Stage": names.stage}
    return [
        AlarmDefinition(
            names.alarm("api-5xx"),
            f"gateway: more than {limits.error_rate_5xx_percent}% 5xx",
            limits.error_rate_5xx_percent / 100,  # 5XXError's average is the share of 5xx
            metric={
                "namespace": "AWS/ApiGateway",
                "metric_name": "5XXError",
                "statistic": "Average",
                "dimensions": api,
            },
        ),
        AlarmDefinition(
            names.alarm("api-latency-p99"),
            f"gateway: latency p99 above {limits.p99_latency_ms + GATEWAY_OVERHEAD_MS} ms",
            limits.p99_latency_ms + GATEWAY_OVERHEAD_MS,
            metric={
                "namespace": "AWS/ApiGateway",
                "metric_name": "Latency",
                "extended_statistic": "p99",
                "dimensions": api,
            },
        ),
    ]


def rollback_alarm_names(spec: DeploymentSpec, names: Names) -> list[str]:
    """The alarms that roll a blue/green deployment back."""
    return [a.name for a in alarm_definitions(spec, names) if a.rollback]
