"""API Gateway's CloudWatch logging role is one setting per account and region: a stack
sets it only when `targets.aws.manage_account_logging` says so, and asks for execution
logs only where the account has such a role."""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.components.aws import AwsEndpointOptions
from inferstack.components.aws.target import AwsOptions

ACCOUNT = "aws:apigateway/account:Account"
SMALL = {"scaling": {"schedules": []}, "gateway": {"waf": False}}


def _logging_level(deployed) -> str:
    api_id = deployed.ids("aws:apigateway/restApi:RestApi")[0]
    stage = deployed.client("apigateway").get_stage(restApiId=api_id, stageName="prod")
    return stage["methodSettings"]["*/*"]["loggingLevel"]


def test_off_by_default(deploy, spec_for) -> None:
    assert AwsOptions().manage_account_logging is False
    deployed = deploy(spec_for(SMALL), name="quiet")
    assert deployed.ids(ACCOUNT) == []
    assert not [r for t, r, _ in deployed.mocks.resources if "logging" in r]
    # No logging role known: API Gateway would refuse a logging level on the stage.
    assert _logging_level(deployed) == "OFF"


@pytest.mark.parametrize(
    ("name", "aws", "options"),
    [
        ("owner", {"manage_account_logging": True}, None),
        ("owner-api", {}, AwsEndpointOptions(manage_account_logging=True)),
    ],
)
def test_the_owning_stack_sets_the_role_and_logs_errors(
    deploy, spec_for, name: str, aws: dict[str, Any], options: AwsEndpointOptions | None
) -> None:
    deployed = deploy(spec_for({**SMALL, "targets": {"aws": aws}}), options, name=name)
    assert len(deployed.ids(ACCOUNT)) == 1
    assert _logging_level(deployed) == "ERROR"


def test_options_can_turn_off_what_the_spec_turns_on(deploy, spec_for) -> None:
    spec = spec_for({**SMALL, "targets": {"aws": {"manage_account_logging": True}}})
    deployed = deploy(spec, AwsEndpointOptions(manage_account_logging=False), name="override")
    assert deployed.ids(ACCOUNT) == []


def test_execution_logs_where_another_stack_owns_the_role(deploy, spec_for) -> None:
    spec = spec_for({**SMALL, "targets": {"aws": {"execution_logging": True}}})
    deployed = deploy(spec, name="tenant")
    assert deployed.ids(ACCOUNT) == []
    assert _logging_level(deployed) == "ERROR"
