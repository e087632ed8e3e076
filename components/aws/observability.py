"""Log groups, CloudWatch alarms, the SNS topic they notify, and the dashboard."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.alarms import (
    PREDICTION_METRIC,
    PREDICTION_PVALUE_METRIC,
    PVALUE_METRIC,
    QUALITY_SAMPLES_METRIC,
    AlarmDefinition,
    alarm_definitions,
)
from inferstack.components.aws.common import (
    DRIFT_METRIC,
    RUNTIME_NAMESPACE,
    SAGEMAKER_NAMESPACE,
    Names,
)
from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.group_observability import (
    GroupMetrics,
    group_alarm_definitions,
    group_dashboard_body,
)
from inferstack.components.aws.naming import DASHBOARD, SNS_TOPIC, fit
from inferstack.components.aws.retraining import Retraining, RetrainingArgs
from inferstack.components.aws.rules import aws_options
from inferstack.components.spec.models import DeploymentSpec
from inferstack.components.targets import profile
from inferstack.runtime.contract import CLOUDWATCH_QUALITY_METRIC


def dashboard_url(region: str, dashboard: str) -> str:
    """The console address of CloudWatch dashboard `dashboard`."""
    return (
        f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        f"#dashboards:name={dashboard}"
    )


def _widget(
    title: str, metrics: list[list[Any]], region: str, stat: str = "Average", y: int = 0, x: int = 0
) -> dict[str, Any]:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": 12,
        "height": 6,
        "properties": {
            "title": title,
            "region": region,
            "stat": stat,
            "period": 60,
            "view": "timeSeries",
            "metrics": metrics,
        },
    }


def dashboard_body(spec: DeploymentSpec, names: Names, region: str) -> dict[str, Any]:
    """A dashboard: invocations, errors, latency and utilisation per variant; the gateway."""
    ep, sm = names.endpoint, "AWS/SageMaker"
    widgets: list[dict[str, Any]] = []

    def per_variant(namespace: str, metric: str) -> list[list[Any]]:
        return [[namespace, metric, "EndpointName", ep, "VariantName", v] for v in names.variants]

    rows = [
        ("Invocations", per_variant(sm, "Invocations"), "Sum"),
        ("Model latency p99 (us)", per_variant(sm, "ModelLatency"), "p99"),
        ("5xx errors", per_variant(sm, "Invocation5XXErrors"), "Sum"),
        ("4xx errors", per_variant(sm, "Invocation4XXErrors"), "Sum"),
        ("Input drift (PSI)", per_variant(RUNTIME_NAMESPACE, DRIFT_METRIC), "Maximum"),
        *monitoring_rows(spec, names),
    ]

    def share_of_instance(metric: str, count: int) -> list[list[Any]]:
        # SageMaker sums CPU/GPU utilisation over vCPUs/GPUs; plot % of the whole instance.
        entries: list[list[Any]] = []
        for i, variant in enumerate(names.variants):
            entries.append([{"expression": f"m{i} / {count}", "label": variant, "id": f"e{i}"}])
            entries.append(
                [*per_variant(SAGEMAKER_NAMESPACE, metric)[i], {"id": f"m{i}", "visible": False}]
            )
        return entries

    if aws_options(spec).mode != "serverless":
        size = profile("aws").instance_size(spec.instance_type())
        rows += [
            (
                "CPU utilisation (% of instance)",
                share_of_instance("CPUUtilization", size.vcpus),
                "Average",
            ),
            (
                "Memory utilisation",
                per_variant(SAGEMAKER_NAMESPACE, "MemoryUtilization"),
                "Average",
            ),
        ]
        if spec.compute.accelerator != "none":
            rows.append(
                (
                    "GPU utilisation (% of instance)",
                    share_of_instance("GPUUtilization", size.gpus),
                    "Average",
                )
            )
    api = ["AWS/ApiGateway", "ApiName", names.api, "Stage", names.stage]
    rows += [
        (
            "Gateway requests and errors",
            [[api[0], m, *api[1:]] for m in ("Count", "4XXError", "5XXError")],
            "Sum",
        ),
        ("Gateway latency p99 (ms)", [[api[0], "Latency", *api[1:]]], "p99"),
    ]
    for i, (title, metrics, stat) in enumerate(rows):
        widgets.append(_widget(title, metrics, region, stat, y=(i // 2) * 6, x=(i % 2) * 12))
    return {"widgets": widgets}


def monitoring_rows(spec: DeploymentSpec, names: Names) -> list[tuple[str, list[list[Any]], str]]:
    """Drift per feature (a search over DriftScore.<feature>), prediction drift, and live
    quality with its joined outcomes, per variant."""
    ep, ns = names.endpoint, RUNTIME_NAMESPACE

    def per_variant(metric: str, **extra: Any) -> list[list[Any]]:
        return [
            [ns, metric, "EndpointName", ep, "VariantName", v, *([extra] if extra else [])]
            for v in names.variants
        ]

    # Search terms match whole tokens of a metric name split at '.', so the term
    # DriftScore finds DriftScore and each DriftScore.<feature> (not PredictionDriftScore).
    search = (
        f"SEARCH('{{{ns},EndpointName,VariantName}} EndpointName=\"{ep}\" {DRIFT_METRIC}', "
        "'Maximum', 60)"
    )
    quality = spec.observability.alarms.quality_metric
    rows: list[tuple[str, list[list[Any]], str]] = [
        ("Input drift (PSI) per feature", [[{"expression": search, "id": "f"}]], "Maximum"),
        ("Input drift: smallest test p-value", per_variant(PVALUE_METRIC), "Minimum"),
        (
            "Prediction drift (PSI; p-value on the right)",
            [
                *per_variant(PREDICTION_METRIC),
                *per_variant(PREDICTION_PVALUE_METRIC, yAxis="right", stat="Minimum"),
            ],
            "Maximum",
        ),
    ]
    metrics = [quality] if quality else ["accuracy", "auc", "mae", "rmse"]
    rows.append(
        (
            "Live quality (joined outcomes on the right)",
            [
                *(
                    entry
                    for m in metrics
                    for entry in per_variant(CLOUDWATCH_QUALITY_METRIC.format(metric=m))
                ),
                *per_variant(QUALITY_SAMPLES_METRIC, yAxis="right"),
            ],
            "Minimum",
        )
    )
    return rows


@dataclass(frozen=True)
class ObservabilityArgs:
    """What to watch and the key the logs and the alarm topic are encrypted with."""

    ctx: AwsContext
    """The deployment's spec (retention, alarms, dashboard), names, tags and region."""
    key_arn: pulumi.Input[str]
    """The stack's KMS key: log groups and the SNS topic."""
    group: GroupMetrics | None = None
    """The instance group's metrics (mode instance_group): its alarms, dashboard and the
    containers' log group replace SageMaker's. None: SageMaker."""


class Observability(pulumi.ComponentResource):
    """Encrypted log groups with retention, alarms to an encrypted SNS topic, a dashboard."""

    topic_arn: pulumi.Output[str]
    """The SNS topic alarms notify."""
    access_log_group_arn: pulumi.Output[str]
    """The API's access log group."""
    container_log_group_arn: pulumi.Output[str]
    """The runtime containers' log group (SageMaker's, or the instance group's)."""
    alarm_names: list[str]
    """Every alarm's name."""
    retraining_rules: list[str]
    """The EventBridge rules that turn drift and quality alarms into retraining requests."""
    dashboard_url: pulumi.Output[str]
    """Console URL of the dashboard ("" when the spec turns it off)."""

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:Observability", name, None, opts)
        ctx, key_arn = args.ctx, args.key_arn
        child = pulumi.ResourceOptions(parent=self)
        names = ctx.names
        groups = _log_groups(name, ctx, key_arn, self, args.group)
        topic = aws.sns.Topic(
            f"{name}-alarms",
            name=fit(SNS_TOPIC, names.endpoint, "alarms"),
            kms_master_key_id=key_arn,
            tags=ctx.tags,
            opts=child,
        )
        for i, email in enumerate(ctx.spec.observability.notify_emails):
            aws.sns.TopicSubscription(
                f"{name}-notify-{i}", topic=topic.arn, protocol="email", endpoint=email, opts=child
            )
        group = args.group
        definitions = (
            alarm_definitions(ctx.spec, names)
            if group is None
            else group_alarm_definitions(ctx.spec, names, group)
        )
        self.alarm_names = _alarms(name, ctx, topic, self, definitions)
        self.retraining_rules: list[str] = []
        if ctx.spec.observability.retraining.enabled and any(a.retrain for a in definitions):
            hook = Retraining(f"{name}-retraining", RetrainingArgs(ctx, tuple(definitions)), child)
            self.retraining_rules = hook.rule_names
        self.dashboard_url = pulumi.Output.from_input("")
        if ctx.spec.observability.dashboard:
            body: pulumi.Input[str]
            if group is None:
                body = json.dumps(dashboard_body(ctx.spec, names, ctx.region))
            else:
                body = pulumi.Output.all(group.load_balancer, group.target_group).apply(
                    lambda v: json.dumps(
                        group_dashboard_body(names, ctx.region, v[0], v[1], group.group_name)
                    )
                )
            dashboard = aws.cloudwatch.Dashboard(
                f"{name}-dashboard",
                dashboard_name=fit(DASHBOARD, names.endpoint),
                dashboard_body=body,
                opts=child,
            )
            self.dashboard_url = dashboard.dashboard_name.apply(
                lambda d: dashboard_url(ctx.region, d)
            )
        self.topic_arn = topic.arn
        self.access_log_group_arn = groups["access-logs"].arn
        self.container_log_group_arn = groups["endpoint-logs"].arn
        self.register_outputs({"topic_arn": self.topic_arn, "dashboard_url": self.dashboard_url})


def _log_groups(
    name: str,
    ctx: AwsContext,
    key_arn: pulumi.Input[str],
    parent: pulumi.Resource,
    group: GroupMetrics | None = None,
) -> dict[str, aws.cloudwatch.LogGroup]:
    """The containers' and the API's access log groups, encrypted, with the retention."""
    log_groups = {
        "endpoint-logs": group.log_group if group else ctx.names.endpoint_log_group,
        "access-logs": ctx.names.access_log_group,
    }
    return {
        role: aws.cloudwatch.LogGroup(
            f"{name}-{role}",
            name=group,
            retention_in_days=ctx.spec.observability.log_retention_days,
            kms_key_id=key_arn,
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=parent),
        )
        for role, group in log_groups.items()
    }


def _alarms(
    name: str,
    ctx: AwsContext,
    topic: aws.sns.Topic,
    parent: pulumi.Resource,
    definitions: list[AlarmDefinition],
) -> list[str]:
    """Every alarm of `definitions`, notifying `topic`; their names."""
    names = ctx.names
    for alarm in definitions:
        single = {k: v for k, v in alarm.metric.items()}
        if single:
            single.setdefault("period", 60)
        aws.cloudwatch.MetricAlarm(
            f"{name}-{alarm.name.removeprefix(names.endpoint + '-')}",
            name=alarm.name,
            alarm_description=alarm.description,
            comparison_operator=alarm.comparison,
            threshold=alarm.threshold,
            evaluation_periods=alarm.evaluation_periods,
            datapoints_to_alarm=alarm.datapoints_to_alarm,
            treat_missing_data="notBreaching",
            metric_queries=alarm.queries or None,
            alarm_actions=[topic.arn],
            ok_actions=[topic.arn],
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=parent),
            **single,
        )
    return [a.name for a in definitions]
