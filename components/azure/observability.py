"""`Observability`: diagnostic logs, alerts, an action group and a workbook.

- Diagnostic settings send the endpoint's console, traffic and event logs and API
  Management's gateway logs (and all metrics of both) to Log Analytics.
- Metric alerts on the endpoint's RequestLatency_P99 and each deployment's CPU and
  memory (CpuMemoryUtilizationPercentage) and, on GPU kinds, GPU and GPU memory
  utilisation ("Supported metrics for .../onlineEndpoints/deployments").
- Log search alerts on Log Analytics: the 5xx share of AmlOnlineEndpointTrafficLog, and
  the runtime's DriftScore, which it prints as an EMF JSON line on stdout (console log).
- Log search alerts on the runtime's other EMF fields: the smallest feature p-value
  (DriftPValue), prediction drift (PredictionDriftScore, PredictionDriftPValue) and live
  quality (Quality.<metric>, only over lines with QualitySamples at the spec's minimum).
- One action group e-mails `observability.notify_emails`; with
  `observability.retraining.webhook_url_secret` a second one calls the webhook (common
  alert schema) from the drift and quality alerts, whose custom properties carry the
  retraining event's fields (`retrain_event_from_common_alert`). Azure Monitor action
  groups have no Event Grid receiver, so `retraining.event_bus` is refused here.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from inferstack.components.azure.autoscale import DEPLOYMENT_NAMESPACE, ENDPOINT_NAMESPACE
from inferstack.components.azure.context import AzureContext
from inferstack.components.azure.naming import ACTION_GROUP_SHORT, fit
from inferstack.components.errors import SpecError
from inferstack.components.monitoring.retrain_event import RetrainReason, retrain_payload
from inferstack.runtime.contract import (
    CLOUDWATCH_QUALITY_METRIC,
    CLOUDWATCH_QUALITY_SAMPLES_METRIC,
)

MONITOR = azure_native.monitor
ENDPOINT_LOGS = (
    "AmlOnlineEndpointConsoleLog",
    "AmlOnlineEndpointTrafficLog",
    "AmlOnlineEndpointEventLog",
)
APIM_LOGS = ("GatewayLogs",)
WINDOW = "PT5M"


def _endpoint_filter(endpoint: str) -> str:
    """Rows of one endpoint, by the resource ID every resource-specific table carries
    (AmlOnlineEndpointConsoleLog has no EndpointName column); KQL's `endswith` ignores
    case, and Log Analytics stores resource IDs upper-case."""
    return f' | where _ResourceId endswith "/onlineendpoints/{endpoint.lower()}"'


def five_xx_query(endpoint: str) -> str:
    """Share of 5xx responses of the endpoint in the window, in percent."""
    return (
        "AmlOnlineEndpointTrafficLog"
        + _endpoint_filter(endpoint)
        + " | summarize Total = count(), Errors = countif(toint(ResponseCode) >= 500)"
        " | extend ErrorRate = iff(Total == 0, 0.0, 100.0 * Errors / Total)"
    )


def drift_query(endpoint: str) -> str:
    """The highest DriftScore the runtime printed (EMF on stdout) in the window."""
    return (
        "AmlOnlineEndpointConsoleLog"
        + _endpoint_filter(endpoint)
        + ' | where Message has "DriftScore"'
        " | extend Emf = parse_json(Message)"
        " | where isnotnull(Emf.DriftScore)"
        " | summarize DriftScore = max(todouble(Emf.DriftScore))"
    )


def emf_query(endpoint: str, field: str, column: str, worst: str, where: str = "") -> str:
    """The worst value (`max` or `min`) of EMF field `field` the runtime printed."""
    return (
        "AmlOnlineEndpointConsoleLog"
        + _endpoint_filter(endpoint)
        + f' | where Message has "{field}"'
        " | extend Emf = parse_json(Message)"
        f' | where isnotnull(Emf["{field}"]){where}'
        f' | summarize {column} = {worst}(todouble(Emf["{field}"]))'
    )


def retrain_log_alerts(
    ctx: AzureContext,
) -> list[tuple[str, RetrainReason, str, str, str, float]]:
    """(name, reason, query, column, operator, threshold) of each acting log alert."""
    alarms, endpoint = ctx.spec.observability.alarms, ctx.names.endpoint
    p = alarms.drift_pvalue
    out: list[tuple[str, RetrainReason, str, str, str, float]] = [
        ("drift", "drift", drift_query(endpoint), "DriftScore", "GreaterThan", alarms.drift_score),
        (
            "driftp",
            "drift",
            emf_query(endpoint, "DriftPValue", "DriftPValue", "min"),
            "DriftPValue",
            "LessThan",
            p,
        ),
        (
            "pdrift",
            "prediction_drift",
            emf_query(endpoint, "PredictionDriftScore", "PredictionDrift", "max"),
            "PredictionDrift",
            "GreaterThan",
            alarms.prediction_drift_score,
        ),
        (
            "pdriftp",
            "prediction_drift",
            emf_query(endpoint, "PredictionDriftPValue", "PredictionDriftPValue", "min"),
            "PredictionDriftPValue",
            "LessThan",
            p,
        ),
    ]
    metric, level = alarms.quality_metric, alarms.quality_threshold
    if metric is not None and level is not None:
        enough = (
            f' | where todouble(Emf["{QUALITY_SAMPLES_FIELD}"]) >= {alarms.quality_min_samples}'
        )
        floor = alarms.quality_floor
        out.append(
            (
                "quality",
                "quality",
                emf_query(
                    endpoint,
                    CLOUDWATCH_QUALITY_METRIC.format(metric=metric),
                    "Quality",
                    "min" if floor else "max",
                    enough,
                ),
                "Quality",
                "LessThan" if floor else "GreaterThan",
                level,
            )
        )
    return out


QUALITY_SAMPLES_FIELD = CLOUDWATCH_QUALITY_SAMPLES_METRIC
"""The EMF field of joined outcomes the quality alert requires."""


def retrain_properties(ctx: AzureContext, reason: RetrainReason) -> dict[str, str]:
    """The acting alert's custom properties: the event's fields Azure cannot fill in."""
    payload = retrain_payload(
        target="azure",
        endpoint=ctx.names.endpoint,
        model_name=ctx.spec.model.name,
        model_version=ctx.spec.model.version,
        reason=reason,
        alarm="",
        state="",
        time="",
    )
    return {
        "inferstack.version": payload["version"],
        "inferstack.type": payload["type"],
        "inferstack.endpoint": payload["endpoint"],
        "inferstack.model": payload["model"]["name"],
        "inferstack.modelVersion": payload["model"]["version"],
        "inferstack.reason": reason,
    }


def retrain_event_from_common_alert(body: dict[str, Any]) -> dict[str, Any]:
    """The v1 retraining event from a common-alert-schema webhook body."""
    data = body["data"]
    essentials, props = data["essentials"], data["customProperties"]
    reason = props["inferstack.reason"]
    return retrain_payload(
        target="azure",
        endpoint=props["inferstack.endpoint"],
        model_name=props["inferstack.model"],
        model_version=props["inferstack.modelVersion"],
        reason=reason,
        alarm=essentials["alertRule"],
        state=essentials["monitorCondition"],
        time=essentials["firedDateTime"],
    )


@dataclass(frozen=True)
class ObservabilityArgs:
    """What to watch and where the logs go."""

    ctx: AzureContext
    resource_group_name: pulumi.Input[str]
    log_analytics_id: pulumi.Input[str]
    endpoint_id: pulumi.Input[str]
    deployment_ids: dict[str, pulumi.Output[str]]
    apim_id: pulumi.Input[str]


class Observability(pulumi.ComponentResource):
    """Diagnostic settings, alerts, action group and workbook of one deployment."""

    dashboard_url: pulumi.Output[str]
    action_group_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: ObservabilityArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:azure:Observability", name, None, opts)
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self)
        for role, resource_id, logs in (
            ("endpoint", args.endpoint_id, ENDPOINT_LOGS),
            ("apim", args.apim_id, APIM_LOGS),
        ):
            MONITOR.DiagnosticSetting(
                f"{name}-{role}-diagnostics",
                name="inferstack-to-log-analytics",
                resource_uri=resource_id,
                workspace_id=args.log_analytics_id,
                log_analytics_destination_type="Dedicated",
                logs=[{"category": c, "enabled": True} for c in logs],
                metrics=[{"category": "AllMetrics", "enabled": True}],
                opts=child,
            )
        group = MONITOR.ActionGroup(
            f"{name}-action-group",
            action_group_name=ctx.names.rule("alerts"),
            group_short_name=fit(ACTION_GROUP_SHORT, ctx.spec.model.name[:12].rstrip("-")),
            resource_group_name=args.resource_group_name,
            location="global",
            enabled=True,
            email_receivers=[
                {"name": f"email-{i}", "email_address": email, "use_common_alert_schema": True}
                for i, email in enumerate(ctx.spec.observability.notify_emails)
            ],
            tags=ctx.tags,
            opts=child,
        )
        self.action_group_id = group.id
        self._metric_alerts(name, args, group.id)
        self._log_alerts(name, args, group.id)
        self._retrain_alerts(name, args, group.id)
        self.dashboard_url = pulumi.Output.from_input("")
        if ctx.spec.observability.dashboard:
            self.dashboard_url = self._workbook(name, args)
        self.register_outputs({"dashboard_url": self.dashboard_url})

    def _metric_alert(
        self,
        name: str,
        args: AzureContext,
        rule: str,
        scope: pulumi.Input[str],
        namespace: str,
        metric: str,
        threshold: float,
        action_group_id: pulumi.Input[str],
        resource_group_name: pulumi.Input[str],
    ) -> None:
        MONITOR.MetricAlert(
            name,
            rule_name=args.names.rule(rule),
            resource_group_name=resource_group_name,
            location="global",
            description=f"{metric} above {threshold:g}",
            severity=2,
            enabled=True,
            scopes=[scope],
            evaluation_frequency="PT1M",
            window_size=WINDOW,
            auto_mitigate=True,
            # A union-typed input: the Args classes make the SDK send camelCase keys.
            criteria=MONITOR.MetricAlertSingleResourceMultipleMetricCriteriaArgs(
                odata_type="Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                all_of=[
                    MONITOR.MetricCriteriaArgs(
                        criterion_type="StaticThresholdCriterion",
                        name=metric,
                        metric_name=metric,
                        metric_namespace=namespace,
                        operator="GreaterThan",
                        threshold=threshold,
                        time_aggregation="Average",
                    )
                ],
            ),
            actions=[{"action_group_id": action_group_id}],
            tags=args.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _metric_alerts(
        self, name: str, args: ObservabilityArgs, action_group_id: pulumi.Input[str]
    ) -> None:
        ctx = args.ctx
        alarms = ctx.spec.observability.alarms
        common = {
            "action_group_id": action_group_id,
            "resource_group_name": args.resource_group_name,
        }
        self._metric_alert(
            f"{name}-latency",
            ctx,
            "p99-latency",
            args.endpoint_id,
            ENDPOINT_NAMESPACE,
            "RequestLatency_P99",
            alarms.p99_latency_ms,
            **common,
        )
        utilisation = [
            ("cpu", "CpuUtilizationPercentage", alarms.cpu_utilization_percent),
            ("memory", "CpuMemoryUtilizationPercentage", alarms.memory_utilization_percent),
        ]
        if ctx.spec.compute.accelerator != "none":
            utilisation.append(("gpu", "GpuUtilizationPercentage", alarms.gpu_utilization_percent))
            utilisation.append(
                ("gpumem", "GpuMemoryUtilizationPercentage", alarms.memory_utilization_percent)
            )
        for color, deployment_id in args.deployment_ids.items():
            for what, metric, threshold in utilisation:
                self._metric_alert(
                    f"{name}-{color}-{what}",
                    ctx,
                    f"{color}-{what}",
                    deployment_id,
                    DEPLOYMENT_NAMESPACE,
                    metric,
                    threshold,
                    **common,
                )

    def _log_alerts(
        self, name: str, args: ObservabilityArgs, action_group_id: pulumi.Input[str]
    ) -> None:
        ctx = args.ctx
        alarms = ctx.spec.observability.alarms
        threshold = alarms.error_rate_5xx_percent
        self._log_alert(
            f"{name}-5xx",
            args,
            "5xx",
            five_xx_query(ctx.names.endpoint),
            ("ErrorRate", "GreaterThan", threshold),
            WINDOW,
            {"action_groups": [action_group_id]},
        )

    def _log_alert(
        self,
        name: str,
        args: ObservabilityArgs,
        what: str,
        query: str,
        test: tuple[str, str, float],
        window: str,
        actions: MONITOR.ActionsArgsDict,
    ) -> None:
        ctx = args.ctx
        column, operator, threshold = test
        worst = "Minimum" if operator == "LessThan" else "Maximum"
        side = "below" if operator == "LessThan" else "above"
        MONITOR.ScheduledQueryRule(
            name,
            rule_name=ctx.names.rule(what),
            resource_group_name=args.resource_group_name,
            location=ctx.location,
            kind="LogAlert",
            description=f"{column} {side} {threshold:g}",
            severity=2,
            enabled=True,
            scopes=[args.log_analytics_id],
            evaluation_frequency=WINDOW,
            window_size=window,
            criteria={
                "all_of": [
                    {
                        "query": query,
                        "time_aggregation": worst,
                        "metric_measure_column": column,
                        "operator": operator,
                        "threshold": threshold,
                        "failing_periods": {
                            "number_of_evaluation_periods": 1,
                            "min_failing_periods_to_alert": 1,
                        },
                    }
                ]
            },
            actions=actions,
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _retrain_alerts(
        self, name: str, args: ObservabilityArgs, action_group_id: pulumi.Input[str]
    ) -> None:
        """Drift and quality log alerts; with a webhook they also call it for retraining."""
        ctx = args.ctx
        settings = ctx.spec.observability.retraining
        if settings.event_bus:
            raise SpecError(
                [
                    "observability.retraining.event_bus: Azure Monitor action groups have no "
                    "Event Grid receiver; use webhook_url_secret (a Functions or Logic Apps "
                    "endpoint that relays the common alert schema)"
                ]
            )
        groups: list[pulumi.Input[str]] = [action_group_id]
        if settings.webhook_url_secret:
            namespace, _, key = settings.webhook_url_secret.rpartition(":")
            url = pulumi.Config(namespace or None).require_secret(key)
            hook = MONITOR.ActionGroup(
                f"{name}-retrain-group",
                action_group_name=ctx.names.rule("retrain"),
                group_short_name=fit(ACTION_GROUP_SHORT, "retrain"),
                resource_group_name=args.resource_group_name,
                location="global",
                enabled=True,
                webhook_receivers=[
                    {"name": "retrain", "service_uri": url, "use_common_alert_schema": True}
                ],
                tags=ctx.tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            groups.append(hook.id)
        for what, reason, query, column, operator, threshold in retrain_log_alerts(ctx):
            self._log_alert(
                f"{name}-{what}",
                args,
                what,
                query,
                (column, operator, threshold),
                "PT15M",
                {"action_groups": groups, "custom_properties": retrain_properties(ctx, reason)},
            )

    def _workbook(self, name: str, args: ObservabilityArgs) -> pulumi.Output[str]:
        ctx = args.ctx
        workbook_id = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"inferstack/{ctx.names.endpoint}/workbook")
        )
        data = pulumi.Output.all(
            args.log_analytics_id, args.endpoint_id, *args.deployment_ids.values()
        ).apply(lambda ids: json.dumps(workbook(ctx, ids[1], ids[2:], ids[0])))
        book = azure_native.applicationinsights.Workbook(
            f"{name}-workbook",
            resource_name_=workbook_id,
            resource_group_name=args.resource_group_name,
            location=ctx.location,
            kind="shared",
            category="workbook",
            display_name=f"inferstack {ctx.spec.model.name} ({ctx.spec.environment})",
            serialized_data=data,
            source_id="azure monitor",
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return pulumi.Output.concat("https://portal.azure.com/#resource", book.id, "/workbook")


def _chart(title: str, resource_ids: list[str], namespace: str, metric: str) -> dict[str, object]:
    return {
        "type": 10,
        "name": title,
        "content": {
            "chartId": title,
            "version": "MetricsItem/2.0",
            "size": 0,
            "chartType": 2,
            "resourceType": namespace.lower(),
            "metricScope": 0,
            "resourceIds": resource_ids,
            "timeContext": {"durationMs": 3600000},
            "metrics": [
                {
                    "namespace": namespace.lower(),
                    "metric": f"{namespace.lower()}--{metric}",
                    "aggregation": 4,
                }
            ],
            "title": title,
        },
    }


def _log_chart(title: str, workspace_id: str, query: str) -> dict[str, object]:
    return {
        "type": 3,
        "name": title,
        "content": {
            "version": "KqlItem/1.0",
            "query": query,
            "size": 0,
            "title": title,
            "timeContext": {"durationMs": 3600000},
            "queryType": 0,
            "resourceType": "microsoft.operationalinsights/workspaces",
            "crossComponentResources": [workspace_id],
            "visualization": "timechart",
        },
    }


def monitoring_queries(ctx: AzureContext) -> dict[str, str]:
    """KQL over the runtime's EMF console lines: drift per feature, prediction drift, and
    live quality with its joined outcomes, in 5-minute bins."""
    base = (
        "AmlOnlineEndpointConsoleLog"
        + _endpoint_filter(ctx.names.endpoint)
        + " | extend Emf = parse_json(Message) | where isnotnull(Emf)"
    )
    per_key = (
        " | mv-apply Key = bag_keys(Emf) to typeof(string) on ("
        ' where Key startswith "{prefix}"'
        " | extend Series = substring(Key, {cut}), Value = todouble(Emf[Key]))"
        " | summarize {agg}(Value) by Series, bin(TimeGenerated, 5m) | render timechart"
    )
    quality = f"{CLOUDWATCH_QUALITY_METRIC.split('{', 1)[0]}"
    return {
        "Input drift (PSI) per feature": base
        + per_key.format(prefix=f"{DRIFT_FIELD}.", cut=len(DRIFT_FIELD) + 1, agg="max"),
        "Prediction drift (PSI, p-value)": base + ' | where isnotnull(Emf["PredictionDriftScore"])'
        ' | summarize PSI = max(todouble(Emf["PredictionDriftScore"])),'
        ' PValue = min(todouble(Emf["PredictionDriftPValue"])) by bin(TimeGenerated, 5m)'
        " | render timechart",
        "Live quality": base + per_key.format(prefix=quality, cut=len(quality), agg="min"),
        "Joined outcomes": base + f' | where isnotnull(Emf["{QUALITY_SAMPLES_FIELD}"])'
        f' | summarize Outcomes = max(todouble(Emf["{QUALITY_SAMPLES_FIELD}"]))'
        " by bin(TimeGenerated, 5m) | render timechart",
    }


DRIFT_FIELD = "DriftScore"


def workbook(
    ctx: AzureContext,
    endpoint_id: str,
    deployment_ids: list[str],
    workspace_id: str | None = None,
) -> dict[str, object]:
    """The workbook's content: request rate and latency, then utilisation per deployment;
    with the Log Analytics workspace, drift and live quality from the runtime's EMF lines."""
    items = [
        _chart("Requests per minute", [endpoint_id], ENDPOINT_NAMESPACE, "RequestsPerMinute"),
        _chart("Latency p99 (ms)", [endpoint_id], ENDPOINT_NAMESPACE, "RequestLatency_P99"),
        _chart("CPU %", deployment_ids, DEPLOYMENT_NAMESPACE, "CpuUtilizationPercentage"),
        _chart("Memory %", deployment_ids, DEPLOYMENT_NAMESPACE, "CpuMemoryUtilizationPercentage"),
    ]
    if ctx.spec.compute.accelerator != "none":
        items.append(
            _chart("GPU %", deployment_ids, DEPLOYMENT_NAMESPACE, "GpuUtilizationPercentage")
        )
        items.append(
            _chart(
                "GPU memory %",
                deployment_ids,
                DEPLOYMENT_NAMESPACE,
                "GpuMemoryUtilizationPercentage",
            )
        )
    if workspace_id:
        items += [
            _log_chart(title, workspace_id, query)
            for title, query in monitoring_queries(ctx).items()
        ]
    return {"version": "Notebook/1.0", "items": items, "isLocked": False}
