"""Application Auto Scaling targets, policies and scheduled actions in moto."""

from __future__ import annotations

from typing import Any

from inferstack.components.testing.aws.fallback import auto_name
from inferstack.components.testing.aws.shapes import Args, Mirror, Moto, Result, boto, params


def _scalable_target(m: Moto, a: Args) -> Result:
    i = a.inputs
    arn = (
        m.client("application-autoscaling")
        .register_scalable_target(
            ServiceNamespace=i["serviceNamespace"],
            ResourceId=i["resourceId"],
            ScalableDimension=i["scalableDimension"],
            MinCapacity=boto(i["minCapacity"]),
            MaxCapacity=boto(i["maxCapacity"]),
        )
        .get("ScalableTargetARN", "")
    )
    return i["resourceId"], {"arn": arn}


def _tracking(config: dict[str, Any]) -> dict[str, Any]:
    out = boto({k: v for k, v in config.items() if k != "customizedMetricSpecification"})
    custom = config.get("customizedMetricSpecification")
    if custom:
        out["CustomizedMetricSpecification"] = params(
            MetricName=custom["metricName"],
            Namespace=custom["namespace"],
            Statistic=custom["statistic"],
            Unit=custom.get("unit"),
            Dimensions=[
                {"Name": d["name"], "Value": d["value"]} for d in custom.get("dimensions") or []
            ],
        )
    return out


def _step(config: dict[str, Any]) -> dict[str, Any]:
    # Pulumi takes the interval bounds as strings; the API takes numbers.
    out = boto({k: v for k, v in config.items() if k != "stepAdjustments"})
    out["StepAdjustments"] = [
        params(
            MetricIntervalLowerBound=_bound(s.get("metricIntervalLowerBound")),
            MetricIntervalUpperBound=_bound(s.get("metricIntervalUpperBound")),
            ScalingAdjustment=boto(s["scalingAdjustment"]),
        )
        for s in config.get("stepAdjustments") or []
    ]
    return out


def _bound(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


def _scaling_policy(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    arn = m.client("application-autoscaling").put_scaling_policy(
        **params(
            PolicyName=name,
            ServiceNamespace=i["serviceNamespace"],
            ResourceId=i["resourceId"],
            ScalableDimension=i["scalableDimension"],
            PolicyType=i["policyType"],
            TargetTrackingScalingPolicyConfiguration=_tracking(
                i["targetTrackingScalingPolicyConfiguration"]
            )
            if i.get("targetTrackingScalingPolicyConfiguration")
            else None,
            StepScalingPolicyConfiguration=_step(i["stepScalingPolicyConfiguration"])
            if i.get("stepScalingPolicyConfiguration")
            else None,
        )
    )["PolicyARN"]
    return arn, {"name": name, "arn": arn}


def _scheduled_action(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    client = m.client("application-autoscaling")
    client.put_scheduled_action(
        **params(
            ServiceNamespace=i["serviceNamespace"],
            Schedule=i["schedule"],
            Timezone=i.get("timezone"),
            ScheduledActionName=name,
            ResourceId=i["resourceId"],
            ScalableDimension=i["scalableDimension"],
            ScalableTargetAction=boto(i["scalableTargetAction"]),
        )
    )
    actions = client.describe_scheduled_actions(
        ServiceNamespace=i["serviceNamespace"], ScheduledActionNames=[name]
    )
    arn = actions["ScheduledActions"][0]["ScheduledActionARN"]
    return arn, {"name": name, "arn": arn}


MIRRORS: dict[str, Mirror] = {
    "aws:appautoscaling/target:Target": _scalable_target,
    "aws:appautoscaling/policy:Policy": _scaling_policy,
    "aws:appautoscaling/scheduledAction:ScheduledAction": _scheduled_action,
}
