"""`DeploymentAutoscale`: Azure Monitor autoscale settings, one per deployment.

Azure Monitor has no target tracking: the spec's target becomes a pair of rules, one
that adds an instance above the target and one that removes one below 70% of it (the
gap keeps the two from flapping, which Azure's "Best practices for autoscale" asks
for). Metrics: the deployment's CpuUtilizationPercentage or GpuUtilizationPercentage,
or the endpoint's RequestsPerMinute for that deployment divided by its instances
("Autoscale online endpoints in Azure Machine Learning",
https://learn.microsoft.com/azure/machine-learning/how-to-autoscale-endpoints).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure_native

from inferstack.components.azure.context import AzureContext, nested

DEPLOYMENT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments"
ENDPOINT_NAMESPACE = "Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
SCALE_IN_SHARE = 0.7
MIN_COOLDOWN_S = 60
"""Azure Monitor's shortest cooldown (PT1M)."""


def _minutes(seconds: int) -> str:
    return f"PT{max(seconds, MIN_COOLDOWN_S) // 60}M"


def scale_rules(
    ctx: AzureContext,
    color: str,
    deployment_id: pulumi.Input[str],
    endpoint_id: pulumi.Input[str],
) -> list[dict[str, Any]]:
    """The scale-out and scale-in rules for the spec's metric and target."""
    scaling = ctx.spec.scaling
    metric: dict[str, Any]
    if scaling.target_metric == "invocations_per_instance":
        metric = {
            "metric_name": "RequestsPerMinute",
            "metric_namespace": ENDPOINT_NAMESPACE,
            "metric_resource_uri": endpoint_id,
            "dimensions": [
                {"dimension_name": "deployment", "operator": "Equals", "values": [color]}
            ],
            "divide_per_instance": True,
        }
    else:
        name = (
            "GpuUtilizationPercentage"
            if scaling.target_metric == "gpu_utilization"
            else "CpuUtilizationPercentage"
        )
        metric = {
            "metric_name": name,
            "metric_namespace": DEPLOYMENT_NAMESPACE,
            "metric_resource_uri": deployment_id,
        }
    common = {
        **metric,
        "statistic": "Average",
        "time_aggregation": "Average",
        "time_grain": "PT1M",
        "time_window": "PT5M",
    }
    return [
        {
            "metric_trigger": {
                **common,
                "operator": "GreaterThan",
                "threshold": scaling.target_value,
            },
            "scale_action": {
                "direction": "Increase",
                "type": "ChangeCount",
                "value": "1",
                "cooldown": _minutes(scaling.scale_out_cooldown_s),
            },
        },
        {
            "metric_trigger": {
                **common,
                "operator": "LessThan",
                "threshold": round(scaling.target_value * SCALE_IN_SHARE, 3),
            },
            "scale_action": {
                "direction": "Decrease",
                "type": "ChangeCount",
                "value": "1",
                "cooldown": _minutes(scaling.scale_in_cooldown_s),
            },
        },
    ]


@dataclass(frozen=True)
class DeploymentAutoscaleArgs:
    """The deployments to scale and the endpoint whose metrics count requests."""

    ctx: AzureContext
    resource_group_name: pulumi.Input[str]
    endpoint_id: pulumi.Input[str]
    deployment_ids: dict[str, pulumi.Output[str]]


class DeploymentAutoscale(pulumi.ComponentResource):
    """One autoscale setting per deployment, the spec's replica range as its capacity."""

    setting_ids: dict[str, pulumi.Output[str]]

    def __init__(
        self, name: str, args: DeploymentAutoscaleArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:azure:DeploymentAutoscale", name, None, opts)
        ctx = args.ctx
        scaling = ctx.spec.scaling
        self.setting_ids = {}
        for color, deployment_id in args.deployment_ids.items():
            setting = azure_native.monitor.AutoscaleSetting(
                f"{name}-{color}",
                autoscale_setting_name=ctx.names.rule(f"autoscale-{color}"),
                resource_group_name=args.resource_group_name,
                location=ctx.location,
                enabled=True,
                target_resource_uri=deployment_id,
                profiles=nested(
                    [
                        {
                            "name": "default",
                            "capacity": {
                                "minimum": str(scaling.min_replicas),
                                "maximum": str(scaling.max_replicas),
                                "default": str(scaling.min_replicas),
                            },
                            "rules": scale_rules(ctx, color, deployment_id, args.endpoint_id),
                        }
                    ]
                ),
                tags=ctx.tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.setting_ids[color] = setting.id
        self.register_outputs({})
