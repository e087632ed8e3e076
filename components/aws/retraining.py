"""The AWS retraining hook: drift and quality alarms that send the retraining event.

CloudWatch sends every alarm's state change to the account's default EventBridge bus
("CloudWatch Alarm State Change", source aws.cloudwatch) without any alarm action.
One rule per reason matches the deployment's alarms of that reason entering ALARM and
turns the event into the versioned payload with an input transformer. Its targets:

- the event bus (`retraining.event_bus`): an input transformer cannot re-source an
  event sent to a bus, so a one-step Step Functions Express state machine puts the
  payload on the default bus as source RETRAIN_EVENT_SOURCE, detail-type
  RETRAIN_EVENT_TYPE;
- the webhook (`retraining.webhook_url_secret`): an EventBridge API destination whose
  connection holds the Authorization header (EventBridge keeps it in Secrets Manager);
  the body is GitHub's repository_dispatch shape.

EventBridge assumes one role to start the state machine and to invoke the API
destination (states:StartExecution, events:InvokeApiDestination).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.alarms import AlarmDefinition
from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.naming import NameRule, fit
from inferstack.components.aws.roles import service_role
from inferstack.components.monitoring.retrain_event import (
    RETRAIN_REASONS,
    RetrainReason,
    retrain_payload,
    webhook_body,
)
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.contract import RETRAIN_EVENT_SOURCE, RETRAIN_EVENT_TYPE

ALARM_EVENT_SOURCE = "aws.cloudwatch"
ALARM_EVENT_TYPE = "CloudWatch Alarm State Change"
# Input transformer variables: JSON paths into the alarm's state-change event.
INPUT_PATHS = {"alarm": "$.detail.alarmName", "state": "$.detail.state.value", "time": "$.time"}
WEBHOOK_RATE_PER_SECOND = 1
"""API destinations take 1-300 invocations per second; a retraining hook needs one."""

_EVENTS_API = "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_{}.html"
EVENT_RULE = NameRule(
    "EventBridge rule name",
    "aws:cloudwatch/eventRule:EventRule",
    "name",
    64,
    r"[\.\-_A-Za-z0-9]+",
    _EVENTS_API.format("PutRule"),
    invalid=r"[^\.\-_A-Za-z0-9]+",
    edges="",
)
EVENT_CONNECTION = NameRule(
    "EventBridge connection name",
    "aws:cloudwatch/eventConnection:EventConnection",
    "name",
    64,
    r"[\.\-_A-Za-z0-9]+",
    _EVENTS_API.format("CreateConnection"),
    invalid=r"[^\.\-_A-Za-z0-9]+",
    edges="",
)
API_DESTINATION = NameRule(
    "EventBridge API destination name",
    "aws:cloudwatch/eventApiDestination:EventApiDestination",
    "name",
    64,
    r"[\.\-_A-Za-z0-9]+",
    _EVENTS_API.format("CreateApiDestination"),
    invalid=r"[^\.\-_A-Za-z0-9]+",
    edges="",
)
STATE_MACHINE = NameRule(
    "Step Functions state machine name",
    "aws:sfn/stateMachine:StateMachine",
    "name",
    80,
    r"[A-Za-z0-9_-]+",
    "https://docs.aws.amazon.com/step-functions/latest/apireference/API_CreateStateMachine.html",
    invalid=r"[^A-Za-z0-9_-]+",
    edges="",
)


def alarm_event_pattern(alarm_names: Sequence[str]) -> dict[str, Any]:
    """The EventBridge pattern of `alarm_names` entering ALARM."""
    return {
        "source": [ALARM_EVENT_SOURCE],
        "detail-type": [ALARM_EVENT_TYPE],
        "detail": {"alarmName": sorted(alarm_names), "state": {"value": ["ALARM"]}},
    }


def payload_template(spec: DeploymentSpec, endpoint: str, reason: RetrainReason) -> str:
    """The input transformer template: the v1 payload with <alarm>, <state>, <time>."""
    payload = retrain_payload(
        target="aws",
        endpoint=endpoint,
        model_name=spec.model.name,
        model_version=spec.model.version,
        reason=reason,
        alarm="<alarm>",
        state="<state>",
        time="<time>",
    )
    return json.dumps(payload, sort_keys=True)


def webhook_template(spec: DeploymentSpec, endpoint: str, reason: RetrainReason) -> str:
    """The webhook's input transformer template (a repository_dispatch body)."""
    body = webhook_body(json.loads(payload_template(spec, endpoint, reason)))
    return json.dumps(body, sort_keys=True)


def state_machine_definition() -> dict[str, Any]:
    """One task: put the execution's input on the default bus as the retraining event."""
    entry = {
        "Source": RETRAIN_EVENT_SOURCE,
        "DetailType": RETRAIN_EVENT_TYPE,
        "Detail.$": "$",
        "EventBusName": "default",
    }
    return {
        "Comment": "Publish inferstack's retraining event",
        "StartAt": "Publish",
        "States": {
            "Publish": {
                "Type": "Task",
                "Resource": "arn:aws:states:::events:putEvents",
                "Parameters": {"Entries": [entry]},
                "End": True,
            }
        },
    }


def _secret(key: str) -> pulumi.Output[str]:
    """Pulumi config secret `key` ('namespace:name', or a name in the project's namespace)."""
    namespace, _, name = key.rpartition(":")
    return pulumi.Config(namespace or None).require_secret(name)


@dataclass(frozen=True)
class RetrainingArgs:
    """The alarms that act and where the deployment's spec says they notify."""

    ctx: AwsContext
    """The deployment's spec (retraining settings, model), names and tags."""
    alarms: tuple[AlarmDefinition, ...]
    """Every alarm of the deployment; those with a `retrain` reason are watched."""


class Retraining(pulumi.ComponentResource):
    """EventBridge rules from drift and quality alarms to the bus and the webhook."""

    rule_names: list[str]
    """One rule per reason that has alarms."""

    def __init__(
        self, name: str, args: RetrainingArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:Retraining", name, None, opts)
        ctx = args.ctx
        settings = ctx.spec.observability.retraining
        endpoint = ctx.names.endpoint
        child = pulumi.ResourceOptions(parent=self)
        by_reason = {
            reason: [a.name for a in args.alarms if a.retrain == reason]
            for reason in RETRAIN_REASONS
        }
        by_reason = {reason: alarms for reason, alarms in by_reason.items() if alarms}
        machine = self._state_machine(name, ctx) if settings.event_bus else None
        destination = (
            self._api_destination(
                name, ctx, settings.webhook_url_secret, settings.webhook_auth_secret
            )
            if settings.webhook_url_secret
            else None
        )
        resources = [r.arn for r in (machine, destination) if r is not None]
        invoke = service_role(
            f"{name}-invoke",
            "events.amazonaws.com",
            pulumi.Output.all(*resources).apply(
                lambda arns: _invoke_policy(machine, destination, arns)
            ),
            self,
            ctx,
            description="EventBridge: start the retraining state machine, call the webhook",
        )
        self.rule_names = []
        for reason, alarms in by_reason.items():
            rule_name = fit(EVENT_RULE, endpoint, "retrain", reason.replace("_", "-"))
            rule = aws.cloudwatch.EventRule(
                f"{name}-{reason.replace('_', '-')}",
                name=rule_name,
                description=f"{endpoint}: {reason.replace('_', ' ')} alarms ask for retraining",
                event_pattern=json.dumps(alarm_event_pattern(alarms)),
                tags=ctx.tags,
                opts=child,
            )
            self.rule_names.append(rule_name)
            after = pulumi.ResourceOptions(parent=self, depends_on=[invoke.grant])
            if machine is not None:
                aws.cloudwatch.EventTarget(
                    f"{name}-{reason.replace('_', '-')}-bus",
                    rule=rule.name,
                    arn=machine.arn,
                    role_arn=invoke.role.arn,
                    input_transformer={
                        "input_paths": INPUT_PATHS,
                        "input_template": payload_template(ctx.spec, endpoint, reason),
                    },
                    opts=after,
                )
            if destination is not None:
                aws.cloudwatch.EventTarget(
                    f"{name}-{reason.replace('_', '-')}-webhook",
                    rule=rule.name,
                    arn=destination.arn,
                    role_arn=invoke.role.arn,
                    input_transformer={
                        "input_paths": INPUT_PATHS,
                        "input_template": webhook_template(ctx.spec, endpoint, reason),
                    },
                    opts=after,
                )
        self.register_outputs({"rule_names": self.rule_names})

    def _state_machine(self, name: str, ctx: AwsContext) -> aws.sfn.StateMachine:
        bus = ctx.arn("events", "event-bus/default")
        publish = service_role(
            f"{name}-publish",
            "states.amazonaws.com",
            bus.apply(
                lambda arn: {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "events:PutEvents", "Resource": arn}
                    ],
                }
            ),
            self,
            ctx,
            description="Step Functions: put the retraining event on the default bus",
        )
        return aws.sfn.StateMachine(
            f"{name}-publish",
            name=fit(STATE_MACHINE, ctx.names.endpoint, "retrain"),
            type="EXPRESS",
            role_arn=publish.role.arn,
            definition=json.dumps(state_machine_definition()),
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[publish.grant]),
        )

    def _api_destination(
        self, name: str, ctx: AwsContext, url_secret: str, auth_secret: str | None
    ) -> aws.cloudwatch.EventApiDestination:
        child = pulumi.ResourceOptions(parent=self)
        # A connection needs an authorization; without a configured one, a harmless header.
        header: aws.cloudwatch.EventConnectionAuthParametersApiKeyArgsDict = (
            {"key": "Authorization", "value": _secret(auth_secret)}
            if auth_secret
            else {"key": "X-Inferstack-Event", "value": RETRAIN_EVENT_TYPE}
        )
        connection = aws.cloudwatch.EventConnection(
            f"{name}-webhook",
            name=fit(EVENT_CONNECTION, ctx.names.endpoint, "retrain"),
            description="The retraining webhook's authorization",
            authorization_type="API_KEY",
            auth_parameters={"api_key": header},
            opts=child,
        )
        return aws.cloudwatch.EventApiDestination(
            f"{name}-webhook",
            name=fit(API_DESTINATION, ctx.names.endpoint, "retrain"),
            description="The retraining webhook",
            connection_arn=connection.arn,
            invocation_endpoint=_secret(url_secret),
            http_method="POST",
            invocation_rate_limit_per_second=WEBHOOK_RATE_PER_SECOND,
            opts=child,
        )


def _invoke_policy(
    machine: aws.sfn.StateMachine | None,
    destination: aws.cloudwatch.EventApiDestination | None,
    arns: list[str],
) -> dict[str, Any]:
    statements: list[dict[str, Any]] = []
    found = iter(arns)
    if machine is not None:
        statements.append(
            {"Effect": "Allow", "Action": "states:StartExecution", "Resource": next(found)}
        )
    if destination is not None:
        statements.append(
            {"Effect": "Allow", "Action": "events:InvokeApiDestination", "Resource": next(found)}
        )
    return {"Version": "2012-10-17", "Statement": statements}
