"""The names the AWS lifecycle calls boto3 with are the ones the AWS target declares:
checked against the offline plan of the prod-aws stack (so a rename there fails here)."""

from __future__ import annotations

from pathlib import Path

from inferstack.components.lifecycle.aws import AwsLifecycle
from inferstack.components.lifecycle.stacks import open_stack
from inferstack.components.plan.run import run_plan
from inferstack.runtime.contract import Env


def test_endpoint_variant_alarm_names_match_the_plan(project_root: Path, aws_env: None) -> None:
    plan = run_plan("prod-aws", project_root)
    life = open_stack("prod-aws", project_root).lifecycle
    assert isinstance(life, AwsLifecycle)
    endpoint = next(
        r
        for r in plan.resources
        if r.type == "pulumi-python:dynamic:Resource" and r.inputs.get("name") == life.endpoint
    )
    rollback = endpoint.inputs["deployment_config"]["AutoRollbackConfiguration"]["Alarms"]
    assert sorted(a["AlarmName"] for a in rollback) == sorted(life.alarms)
    alarms = {r.inputs["name"] for r in plan.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert set(life.alarms) <= alarms
    (config,) = plan.of_type("aws:sagemaker/endpointConfiguration:EndpointConfiguration")
    assert [v["variantName"] for v in config.inputs["productionVariants"]] == ["primary"]
    # versions() reads each variant's version from its model's container environment
    (model,) = plan.of_type("aws:sagemaker/model:Model")
    environment = model.inputs["primaryContainer"]["environment"]
    assert environment[Env.MODEL_VERSION] == life.spec.model.version
    assert environment[Env.VARIANT] == "primary"
