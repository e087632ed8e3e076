"""Application Auto Scaling for the endpoint's variants: target tracking and schedules."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial

import pulumi
import pulumi_aws as aws
from pulumi_aws.appautoscaling import (
    PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensionArgsDict,
)

from inferstack.components.aws.common import SAGEMAKER_NAMESPACE
from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.naming import SCALING_POLICY, SCHEDULED_ACTION, auto_logical
from inferstack.components.aws.rules import aws_options
from inferstack.components.aws.sagemaker import variant_plans
from inferstack.components.spec.models import DeploymentSpec
from inferstack.components.targets import profile

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
# 1 while an async endpoint has queued requests and no instance to run them.
BACKLOG_WITHOUT_CAPACITY = "HasBacklogWithoutCapacity"
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


def aws_cron(expression: str) -> str:
    """A 5-field cron (min hour day month weekday, weekday 0-7 = SUN) as AWS `cron(...)`.

    AWS wants six fields, a `?` in day-of-month or day-of-week, and numbers days of the
    week 1-7 from Sunday; weekday numbers become names (MON-FRI) to avoid the off-by-one.
    """
    minute, hour, day, month, weekday = expression.split()
    if day != "*" and weekday != "*":
        raise ValueError(
            f"{expression!r}: AWS cron cannot restrict both day of month and "
            "day of week; use * in one of them"
        )
    weekday = re.sub(r"(?<![/\d])\d(?!\d)", lambda m: _WEEKDAYS[int(m.group())], weekday)
    if weekday == "*":
        weekday = "?"
    else:
        day = "?"
    return f"cron({minute} {hour} {day} {month} {weekday} *)"


def resource_id(endpoint: str, variant: str) -> str:
    """Application Auto Scaling's id of a SageMaker variant."""
    return f"endpoint/{endpoint}/variant/{variant}"


# pulumi-aws's typed input dicts for a target-tracking policy and its metric dimensions.
TrackingConfiguration = aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgsDict
MetricDimension = (
    PolicyTargetTrackingScalingPolicyConfigurationCustomizedMetricSpecificationDimensionArgsDict
)


def tracking_configuration(
    spec: DeploymentSpec, endpoint: str, variant: str
) -> TrackingConfiguration:
    """The target-tracking configuration for `spec.scaling.target_metric` on one variant."""
    scaling = spec.scaling
    config: TrackingConfiguration = {
        "scale_in_cooldown": scaling.scale_in_cooldown_s,
        "scale_out_cooldown": scaling.scale_out_cooldown_s,
        "target_value": scaling.target_value,
    }
    dimensions: list[MetricDimension] = [
        {"name": "EndpointName", "value": endpoint},
        {"name": "VariantName", "value": variant},
    ]
    if aws_options(spec).mode == "async" and scaling.target_metric == "invocations_per_instance":
        # Async endpoints queue requests: track the backlog per instance instead.
        config["customized_metric_specification"] = {
            "metric_name": "ApproximateBacklogSizePerInstance",
            "namespace": "AWS/SageMaker",
            "statistic": "Average",
            "dimensions": [dimensions[0]],
        }
    elif scaling.target_metric == "invocations_per_instance":
        config["predefined_metric_specification"] = {
            "predefined_metric_type": "SageMakerVariantInvocationsPerInstance"
        }
    else:
        metric = (
            "GPUUtilization" if scaling.target_metric == "gpu_utilization" else "CPUUtilization"
        )
        # SageMaker sums these over the instance's vCPUs or GPUs (0-100 x count); the
        # spec's target is a percent of the whole instance.
        size = profile("aws").instance_size(spec.instance_type())
        count = size.gpus if metric == "GPUUtilization" else size.vcpus
        config["target_value"] = scaling.target_value * count
        config["customized_metric_specification"] = {
            "metric_name": metric,
            "namespace": SAGEMAKER_NAMESPACE,
            "statistic": "Average",
            "dimensions": dimensions,
        }
    return config


StepConfiguration = aws.appautoscaling.PolicyStepScalingPolicyConfigurationArgsDict


def scales_from_zero(spec: DeploymentSpec) -> bool:
    """Whether the primary variant may sit at zero instances (async endpoints only)."""
    return aws_options(spec).mode == "async" and spec.scaling.min_replicas == 0


def from_zero_configuration(spec: DeploymentSpec) -> StepConfiguration:
    """One instance more whenever requests wait with no instance to run them.

    Target tracking on the backlog per instance cannot act at zero instances (there
    is no per-instance value to track), so SageMaker needs a step scaling policy on
    `HasBacklogWithoutCapacity` to scale out from zero; tracking takes over from one.
    """
    return {
        "adjustment_type": "ChangeInCapacity",
        "cooldown": spec.scaling.scale_out_cooldown_s,
        "metric_aggregation_type": "Average",
        "step_adjustments": [{"metric_interval_lower_bound": "0", "scaling_adjustment": 1}],
    }


@dataclass(frozen=True)
class EndpointAutoscalingArgs:
    """The endpoint whose variants scale."""

    ctx: AwsContext
    """The deployment's spec (scaling, variants), names and tags."""
    endpoint_name: pulumi.Input[str]
    """The SageMaker endpoint's name."""


class EndpointAutoscaling(pulumi.ComponentResource):
    """A scalable target per variant, target tracking on each, schedules on the primary."""

    resource_ids: pulumi.Output[list[str]]
    """The scalable targets' resource ids (endpoint/<name>/variant/<variant>)."""

    def __init__(
        self, name: str, args: EndpointAutoscalingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:EndpointAutoscaling", name, None, opts)
        ctx, endpoint_name = args.ctx, args.endpoint_name
        spec = ctx.spec
        scaling = spec.scaling
        ids: list[pulumi.Output[str]] = []
        for i, plan in enumerate(variant_plans(spec)):
            primary = i == 0
            endpoint = pulumi.Output.from_input(endpoint_name)
            rid = endpoint.apply(partial(resource_id, variant=plan.name))
            target = aws.appautoscaling.Target(
                f"{name}-{plan.name}",
                service_namespace="sagemaker",
                scalable_dimension=DIMENSION,
                resource_id=rid,
                min_capacity=scaling.min_replicas if primary else plan.replicas,
                max_capacity=max(scaling.max_replicas, plan.replicas),
                tags=ctx.tags,
                opts=pulumi.ResourceOptions(parent=self),
            )
            aws.appautoscaling.Policy(
                auto_logical(SCALING_POLICY, f"{name}-{plan.name}-tracking"),
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration=endpoint.apply(
                    partial(tracking_configuration, spec, variant=plan.name)
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            if primary and scales_from_zero(spec):
                self._scale_from_zero(name, ctx, target, endpoint, plan.name)
            if primary:
                for window in scaling.schedules:
                    aws.appautoscaling.ScheduledAction(
                        auto_logical(SCHEDULED_ACTION, f"{name}-{window.name}"),
                        service_namespace=target.service_namespace,
                        scalable_dimension=target.scalable_dimension,
                        resource_id=target.resource_id,
                        schedule=aws_cron(window.cron),
                        timezone=window.timezone,
                        scalable_target_action={
                            "min_capacity": window.min_replicas,
                            "max_capacity": window.max_replicas,
                        },
                        opts=pulumi.ResourceOptions(parent=self),
                    )
            ids.append(target.resource_id)
        self.resource_ids = pulumi.Output.all(*ids)
        self.register_outputs({"resource_ids": self.resource_ids})

    def _scale_from_zero(
        self,
        name: str,
        ctx: AwsContext,
        target: aws.appautoscaling.Target,
        endpoint: pulumi.Output[str],
        variant: str,
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        policy = aws.appautoscaling.Policy(
            auto_logical(SCALING_POLICY, f"{name}-{variant}-from-zero"),
            policy_type="StepScaling",
            service_namespace=target.service_namespace,
            scalable_dimension=target.scalable_dimension,
            resource_id=target.resource_id,
            step_scaling_policy_configuration=from_zero_configuration(ctx.spec),
            opts=child,
        )
        aws.cloudwatch.MetricAlarm(
            f"{name}-{variant}-backlog-without-capacity",
            name=ctx.names.alarm("backlog-without-capacity", variant),
            alarm_description=f"{variant}: requests queued with no instance; add one",
            namespace="AWS/SageMaker",
            metric_name=BACKLOG_WITHOUT_CAPACITY,
            # SageMaker publishes it per endpoint only (no VariantName).
            dimensions={"EndpointName": endpoint},
            statistic="Average",
            period=60,
            evaluation_periods=2,
            datapoints_to_alarm=2,
            comparison_operator="GreaterThanOrEqualToThreshold",
            threshold=1,
            treat_missing_data="missing",
            alarm_actions=[policy.arn],
            tags=ctx.tags,
            opts=child,
        )
