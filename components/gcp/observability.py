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
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp

from inferstack.components.gcp.context import GcpContext
from inferstack.runtime.contract import INFERENCE_ROUTES, Metric

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
        prom("drift score", f"{queries['drift_score']} > {alarms.drift_score:g}"),
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


def dashboard_json(ctx: GcpContext) -> str:
    queries = promql(ctx)
    charts = [
        ("Requests per second", queries["requests_per_s"]),
        ("p99 latency (s)", queries["p99_latency_s"]),
        ("5xx (%)", queries["error_5xx_percent"]),
        ("Drift score (PSI)", queries["drift_score"]),
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
