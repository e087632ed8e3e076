"""`GkeObservability`: log bucket, notification channels, alert policies and a dashboard.

The runtime writes JSON lines; GKE's logging agent parses them into `jsonPayload`.
The namespace's logs are routed to a bucket of their own with the spec's retention
(the project's `_Default` bucket is shared by every stack, so it is left alone). Alerts
read the runtime's Prometheus metrics (managed Prometheus, PromQL) and GKE's GPU duty
cycle; names come from `runtime/contract.py`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp

from inferstack.components.gcp.context import GcpContext
from inferstack.components.monitoring.retrain_event import RetrainReason, retrain_payload
from inferstack.runtime.contract import INFERENCE_ROUTES, Metric

RETRAIN_LABEL = "inferstack-retrain"
"""User label of the alert policies that ask for retraining (value: the event's reason)."""
NOTIFICATION_AGENT = (
    "serviceAccount:service-{number}@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
)
"""Cloud Monitoring's notification service agent, which publishes to Pub/Sub channels."""

INFERENCE_ROUTE_REGEX = "|".join(r.replace("{name}", "[^/]+") for r in INFERENCE_ROUTES)
"""The `route` label values of requests that ran the model (probes, health checks and
scrapes are answered too, and would dilute error rates and latency)."""


def promql(ctx: GcpContext) -> dict[str, str]:
    """The PromQL of each alert and chart, scoped to the deployment's namespace and to
    requests on the inference routes."""
    ns = f'namespace="{ctx.namespace}",route=~"{INFERENCE_ROUTE_REGEX}"'
    rate = f"rate({Metric.REQUESTS}_total{{{ns}}}[5m])"
    return {
        "p99_latency_s": "histogram_quantile(0.99, sum by (le) "
        f"(rate({Metric.REQUEST_DURATION}_bucket{{{ns}}}[5m])))",
        "error_5xx_percent": f'100 * sum(rate({Metric.REQUESTS}_total{{{ns},code=~"5.."}}[5m])) '
        f"/ clamp_min(sum({rate}), 1e-9)",
        "drift_score": f'max({Metric.DRIFT_SCORE}{{namespace="{ctx.namespace}"}})',
        "drift_by_feature": "max by (feature) "
        f'({Metric.DRIFT_SCORE}{{namespace="{ctx.namespace}"}})',
        "drift_pvalue": f'min({Metric.DRIFT_PVALUE}{{namespace="{ctx.namespace}"}})',
        "prediction_drift_score": "max by (version) "
        f'({Metric.PREDICTION_DRIFT_SCORE}{{namespace="{ctx.namespace}"}})',
        "prediction_drift_pvalue": "min by (version) "
        f'({Metric.PREDICTION_DRIFT_PVALUE}{{namespace="{ctx.namespace}"}})',
        "quality": f'min by (version, metric) ({Metric.QUALITY}{{namespace="{ctx.namespace}"}})',
        "quality_samples": "sum by (version) "
        f'({Metric.QUALITY_SAMPLES}{{namespace="{ctx.namespace}"}})',
        "requests_per_s": f"sum by (version) ({rate})",
    }


def alert_conditions(ctx: GcpContext) -> list[dict[str, Any]]:
    """One condition per alarm of the spec (GPU only on GPU deployments)."""
    alarms, queries = ctx.spec.observability.alarms, promql(ctx)

    def prom(title: str, query: str) -> dict[str, Any]:
        return {
            "display_name": title,
            "condition_prometheus_query_language": {
                "query": query,
                "duration": "300s",
                "evaluation_interval": "60s",
            },
        }

    conditions = [
        prom("p99 latency", f"{queries['p99_latency_s']} > {alarms.p99_latency_ms / 1000:g}"),
        prom("5xx rate", f"{queries['error_5xx_percent']} > {alarms.error_rate_5xx_percent:g}"),
    ]
    if ctx.spec.compute.accelerator != "none":
        conditions.append(
            {
                "display_name": "GPU utilisation",
                "condition_threshold": {
                    "filter": 'metric.type="kubernetes.io/container/accelerator/duty_cycle" '
                    'AND resource.type="k8s_container" '
                    f'AND resource.labels.namespace_name="{ctx.namespace}"',
                    "comparison": "COMPARISON_GT",
                    "threshold_value": alarms.gpu_utilization_percent,
                    "duration": "600s",
                    "aggregations": [
                        {"alignment_period": "60s", "per_series_aligner": "ALIGN_MEAN"}
                    ],
                },
            }
        )
    return conditions


def _prom(title: str, query: str) -> dict[str, Any]:
    return {
        "display_name": title,
        "condition_prometheus_query_language": {
            "query": query,
            "duration": "300s",
            "evaluation_interval": "60s",
        },
    }


def retrain_conditions(ctx: GcpContext) -> list[tuple[RetrainReason, dict[str, Any]]]:
    """The drift and quality conditions, each with the reason it asks for retraining."""
    alarms, q = ctx.spec.observability.alarms, promql(ctx)
    p = f"{alarms.drift_pvalue:g}"
    out: list[tuple[RetrainReason, dict[str, Any]]] = [
        ("drift", _prom("drift score", f"{q['drift_score']} > {alarms.drift_score:g}")),
        ("drift", _prom("drift p-value", f"{q['drift_pvalue']} < {p}")),
        (
            "prediction_drift",
            _prom(
                "prediction drift",
                f"{q['prediction_drift_score']} > {alarms.prediction_drift_score:g}",
            ),
        ),
        (
            "prediction_drift",
            _prom("prediction drift p-value", f"{q['prediction_drift_pvalue']} < {p}"),
        ),
    ]
    metric, level = alarms.quality_metric, alarms.quality_threshold
    if metric is not None and level is not None:
        op = "<" if alarms.quality_floor else ">"
        quality = (
            f'min by (version) ({Metric.QUALITY}{{namespace="{ctx.namespace}",metric="{metric}"}})'
        )
        query = (
            f"({quality} {op} {level:g}) and on (version) "
            f"({q['quality_samples']} >= {alarms.quality_min_samples})"
        )
        out.append(("quality", _prom("live quality", query)))
    return out


def retrain_documentation(ctx: GcpContext, reason: RetrainReason) -> str:
    """The policy's documentation: the v1 payload, which every notification carries as
    `incident.documentation.content`. Cloud Monitoring fills ${policy.display_name}; the
    incident's `state` and `started_at` give the rest (`retrain_event_from_incident`)."""
    payload = retrain_payload(
        target="gcp",
        endpoint=ctx.base,
        model_name=ctx.spec.model.name,
        model_version=ctx.spec.model.version,
        reason=reason,
        alarm="${policy.display_name}",
        state="open",
        time="1970-01-01T00:00:00Z",
    )
    return json.dumps(payload, sort_keys=True)


def retrain_event_from_incident(notification: dict[str, Any]) -> dict[str, Any]:
    """The v1 retraining event from a Cloud Monitoring notification (Pub/Sub message data
    or webhook body, schema version 1.2): the documentation's payload with the incident's
    state and start time."""
    incident = notification["incident"]
    payload: dict[str, Any] = json.loads(incident["documentation"]["content"])
    started = datetime.fromtimestamp(int(incident["started_at"]), tz=UTC)
    payload["time"] = started.strftime("%Y-%m-%dT%H:%M:%SZ")
    payload["alarm"] = {"name": incident["policy_name"], "state": incident["state"]}
    return payload


def dashboard_json(ctx: GcpContext) -> str:
    queries = promql(ctx)
    charts = [
        ("Requests per second", queries["requests_per_s"]),
        ("p99 latency (s)", queries["p99_latency_s"]),
        ("5xx (%)", queries["error_5xx_percent"]),
        ("Drift score (PSI)", queries["drift_score"]),
        ("Input drift per feature (PSI)", queries["drift_by_feature"]),
        ("Prediction drift (PSI)", queries["prediction_drift_score"]),
        ("Live quality", queries["quality"]),
        ("Joined outcomes", queries["quality_samples"]),
    ]
    tiles = [
        {
            "xPos": (i % 2) * 6,
            "yPos": (i // 2) * 4,
            "width": 6,
            "height": 4,
            "widget": {
                "title": title,
                "xyChart": {"dataSets": [{"timeSeriesQuery": {"prometheusQuery": query}}]},
            },
        }
        for i, (title, query) in enumerate(charts)
    ]
    return json.dumps(
        {"displayName": f"inferstack {ctx.base}", "mosaicLayout": {"columns": 12, "tiles": tiles}}
    )


@dataclass(frozen=True)
class GkeObservabilityArgs:
    ctx: GcpContext


class GkeObservability(pulumi.ComponentResource):
    """Logs routed to their own bucket, e-mail channels, alert policies and a dashboard."""

    dashboard_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: GkeObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:gcp:GkeObservability", name, None, opts)
        ctx, spec = args.ctx, args.ctx.spec
        child = pulumi.ResourceOptions(parent=self)
        bucket = gcp.logging.ProjectBucketConfig(
            f"{name}-logs",
            project=ctx.project,
            location="global",
            bucket_id=ctx.log_bucket(),
            retention_days=spec.observability.log_retention_days,
            opts=child,
        )
        gcp.logging.ProjectSink(
            f"{name}-logs-sink",
            name=ctx.log_bucket(),
            project=ctx.project,
            destination=bucket.name.apply(lambda n: f"logging.googleapis.com/{n}"),
            filter='resource.type="k8s_container" AND '
            f'resource.labels.namespace_name="{ctx.namespace}"',
            unique_writer_identity=True,
            opts=child,
        )
        channels = [
            gcp.monitoring.NotificationChannel(
                f"{name}-email-{i}",
                project=ctx.project,
                display_name=f"inferstack {ctx.base} {email}",
                type="email",
                labels={"email_address": email},
                user_labels=ctx.labels,
                opts=child,
            ).name
            for i, email in enumerate(spec.observability.notify_emails)
        ]
        for condition in alert_conditions(ctx):
            slug = condition["display_name"].lower().replace(" ", "-")
            gcp.monitoring.AlertPolicy(
                f"{name}-alert-{slug}",
                project=ctx.project,
                display_name=f"inferstack {ctx.base}: {condition['display_name']}",
                combiner="OR",
                conditions=[cast(Any, condition)],
                notification_channels=channels,
                severity="ERROR",
                user_labels=ctx.labels,
                opts=child,
            )
        hooks = _retrain_channels(name, ctx, self) if spec.observability.retraining.enabled else []
        for reason, condition in retrain_conditions(ctx):
            slug = condition["display_name"].lower().replace(" ", "-")
            gcp.monitoring.AlertPolicy(
                f"{name}-alert-{slug}",
                project=ctx.project,
                display_name=f"inferstack {ctx.base}: {condition['display_name']}",
                combiner="OR",
                conditions=[cast(Any, condition)],
                notification_channels=[*channels, *hooks],
                documentation={
                    "content": retrain_documentation(ctx, reason),
                    "mime_type": "text/markdown",
                },
                severity="WARNING",
                user_labels={**ctx.labels, RETRAIN_LABEL: reason.replace("_", "-")},
                opts=child,
            )
        self.dashboard_url = pulumi.Output.from_input("")
        if spec.observability.dashboard:
            board = gcp.monitoring.Dashboard(
                f"{name}-dashboard",
                project=ctx.project,
                dashboard_json=dashboard_json(ctx),
                opts=child,
            )
            self.dashboard_url = board.id.apply(
                lambda i: (
                    "https://console.cloud.google.com/monitoring/dashboards/builder/"
                    f"{i.rsplit('/', 1)[-1]}?project={ctx.project}"
                )
            )
        self.register_outputs({"dashboard_url": self.dashboard_url})


def _retrain_channels(
    name: str, ctx: GcpContext, parent: pulumi.Resource
) -> list[pulumi.Output[str]]:
    """A Pub/Sub channel (its topic, and the notification agent's publisher grant) and a
    webhook channel, as the spec's `observability.retraining` asks."""
    settings = ctx.spec.observability.retraining
    child = pulumi.ResourceOptions(parent=parent)
    out: list[pulumi.Output[str]] = []
    if settings.event_bus:
        topic = gcp.pubsub.Topic(
            f"{name}-retrain",
            project=ctx.project,
            name=f"{ctx.base}-retrain",
            labels=ctx.labels,
            opts=child,
        )
        number = gcp.organizations.get_project_output(project_id=ctx.project).number
        grant = gcp.pubsub.TopicIAMMember(
            f"{name}-retrain-publisher",
            project=ctx.project,
            topic=topic.name,
            role="roles/pubsub.publisher",
            member=number.apply(lambda n: NOTIFICATION_AGENT.format(number=n)),
            opts=child,
        )
        out.append(
            gcp.monitoring.NotificationChannel(
                f"{name}-retrain-pubsub",
                project=ctx.project,
                display_name=f"inferstack {ctx.base} retraining (Pub/Sub)",
                type="pubsub",
                labels={"topic": topic.id},
                user_labels=ctx.labels,
                opts=pulumi.ResourceOptions(parent=parent, depends_on=[grant]),
            ).name
        )
    if settings.webhook_url_secret:
        namespace, _, key = settings.webhook_url_secret.rpartition(":")
        url = pulumi.Config(namespace or None).require_secret(key)
        out.append(
            gcp.monitoring.NotificationChannel(
                f"{name}-retrain-webhook",
                project=ctx.project,
                display_name=f"inferstack {ctx.base} retraining (webhook)",
                type="webhook_tokenauth",
                labels={"url": url},
                user_labels=ctx.labels,
                opts=child,
            ).name
        )
    return out
