"""EventBridge rules, targets, connections and API destinations, and Step Functions
state machines, in moto (the retraining hook: aws/retraining.py)."""

from __future__ import annotations

from typing import Any

from inferstack.components.testing.aws.fallback import auto_name
from inferstack.components.testing.aws.shapes import (
    Args,
    Mirror,
    Moto,
    Result,
    boto,
    params,
    tag_list,
)


def _rule(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    arn = m.client("events").put_rule(
        **params(
            Name=name,
            EventPattern=i.get("eventPattern"),
            ScheduleExpression=i.get("scheduleExpression"),
            Description=i.get("description"),
            EventBusName=i.get("eventBusName"),
            Tags=tag_list(i.get("tags")) or None,
        )
    )["RuleArn"]
    return name, {"name": name, "arn": arn}


def _transformer(t: dict[str, Any] | None) -> dict[str, Any] | None:
    if not t:
        return None
    return params(InputPathsMap=t.get("inputPaths"), InputTemplate=t["inputTemplate"])


def _target(m: Moto, a: Args) -> Result:
    i = a.inputs
    target_id = i.get("targetId") or a.name[-64:]
    target = params(
        Id=target_id,
        Arn=i["arn"],
        RoleArn=i.get("roleArn"),
        Input=i.get("input"),
        InputPath=i.get("inputPath"),
        InputTransformer=_transformer(i.get("inputTransformer")),
    )
    answer = m.client("events").put_targets(
        **params(Rule=i["rule"], EventBusName=i.get("eventBusName"), Targets=[target])
    )
    if answer.get("FailedEntryCount"):
        raise ValueError(f"EventBridge refused target {target_id}: {answer['FailedEntries']}")
    return f"{i['rule']}-{target_id}", {"targetId": target_id}


def _connection(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    auth = i["authParameters"]
    key = auth.get("apiKey")
    arn = m.client("events").create_connection(
        **params(
            Name=name,
            Description=i.get("description"),
            AuthorizationType=i["authorizationType"],
            AuthParameters={
                "ApiKeyAuthParameters": {"ApiKeyName": key["key"], "ApiKeyValue": key["value"]}
            }
            if key
            else {},
        )
    )["ConnectionArn"]
    return name, {"name": name, "arn": arn}


def _api_destination(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    arn = m.client("events").create_api_destination(
        **params(
            Name=name,
            Description=i.get("description"),
            ConnectionArn=i["connectionArn"],
            InvocationEndpoint=i["invocationEndpoint"],
            HttpMethod=i["httpMethod"],
            InvocationRateLimitPerSecond=boto(i.get("invocationRateLimitPerSecond")),
        )
    )["ApiDestinationArn"]
    return name, {"name": name, "arn": arn}


def _state_machine(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    arn = m.client("stepfunctions").create_state_machine(
        **params(
            name=name,
            definition=i["definition"],
            roleArn=i["roleArn"],
            type=i.get("type"),
            tags=[{"key": k, "value": v} for k, v in (i.get("tags") or {}).items()] or None,
        )
    )["stateMachineArn"]
    return arn, {"name": name, "arn": arn}


MIRRORS: dict[str, Mirror] = {
    "aws:cloudwatch/eventRule:EventRule": _rule,
    "aws:cloudwatch/eventTarget:EventTarget": _target,
    "aws:cloudwatch/eventConnection:EventConnection": _connection,
    "aws:cloudwatch/eventApiDestination:EventApiDestination": _api_destination,
    "aws:sfn/stateMachine:StateMachine": _state_machine,
}
