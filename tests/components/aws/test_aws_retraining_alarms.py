"""Drift and quality alarms on AWS, and the retraining hook they drive, read back from moto.

The alarms watch the metric names the runtime prints as EMF lines (runtime/emf.py and
the contract's CLOUDWATCH_QUALITY_METRIC); EventBridge rules match exactly those alarms'
state changes and send the versioned payload to a state machine that puts it on the
default bus, and to an API destination (the webhook). The input transformer is applied
here to a real CloudWatch state-change event and the result checked against the schema.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from moto.events.models import EventPattern

from inferstack.components.aws import AwsEndpoint
from inferstack.components.aws.alarms import (
    PREDICTION_METRIC,
    PREDICTION_PVALUE_METRIC,
    PVALUE_METRIC,
)
from inferstack.components.aws.retraining import (
    ALARM_EVENT_TYPE,
    INPUT_PATHS,
    state_machine_definition,
)
from inferstack.components.monitoring.retrain_event import retrain_schema
from inferstack.components.testing import MotoMocks, run_program
from inferstack.runtime import emf
from inferstack.runtime.contract import (
    CLOUDWATCH_QUALITY_METRIC,
    CLOUDWATCH_QUALITY_SAMPLES_METRIC,
    RETRAIN_EVENT_SOURCE,
    RETRAIN_EVENT_TYPE,
    RETRAIN_EVENT_VERSION,
)
from tests.components.aws.conftest import REGION

URL = "https://api.github.com/repos/acme/models/dispatches"
TOKEN = "Bearer ghp_example"
RETRAINING = {
    "event_bus": True,
    "webhook_url_secret": "retrainWebhookUrl",
    "webhook_auth_secret": "retrainWebhookAuth",
}
ALARMS = {
    "drift_score": 0.25,
    "drift_pvalue": 0.005,
    "prediction_drift_score": 0.3,
    "quality_metric": "auc",
    "quality_threshold": 0.7,
    "quality_min_samples": 200,
}
LEAN = {"scaling": {"schedules": []}, "gateway": {"waf": False}, "compute": {"accelerator": "none"}}
ENDPOINT = "retrain-test"


class Hooked:
    """A deployment with the retraining hook on, and the moto clients to read it."""

    def __init__(self, mocks: MotoMocks) -> None:
        self.mocks = mocks
        alarms = mocks.client("cloudwatch").describe_alarms(AlarmNamePrefix=f"{ENDPOINT}-")
        self.alarms = {
            a["AlarmName"].removeprefix(f"{ENDPOINT}-"): a for a in alarms["MetricAlarms"]
        }
        events = mocks.client("events")
        self.rules = {
            r["Name"]: r for r in events.list_rules(NamePrefix=f"{ENDPOINT}-retrain")["Rules"]
        }
        self.targets = {
            name: events.list_targets_by_rule(Rule=name)["Targets"] for name in self.rules
        }


@pytest.fixture(scope="module")
def hooked(moto_env: None, spec_for: Any) -> Hooked:
    spec = spec_for({**LEAN, "observability": {"alarms": ALARMS, "retraining": RETRAINING}})
    mocks = MotoMocks(REGION)
    config = {"inferstack:retrainWebhookUrl": URL, "inferstack:retrainWebhookAuth": TOKEN}
    run_program(lambda: {"url": AwsEndpoint("retrain", spec).url}, mocks, config=config)
    return Hooked(mocks)


def test_aws_metric_names_are_the_runtimes() -> None:
    assert (PVALUE_METRIC, PREDICTION_METRIC, PREDICTION_PVALUE_METRIC) == (
        emf.PVALUE_METRIC,
        emf.PREDICTION_METRIC,
        emf.PREDICTION_PVALUE_METRIC,
    )


def test_drift_alarms_watch_psi_pvalue_and_prediction_drift_per_variant(hooked) -> None:
    dims = [
        {"Name": "EndpointName", "Value": ENDPOINT},
        {"Name": "VariantName", "Value": "primary"},
    ]
    expected = {
        "primary-drift": (emf.DRIFT_METRIC, "Maximum", "GreaterThanThreshold", 0.25),
        "primary-drift-pvalue": (emf.PVALUE_METRIC, "Minimum", "LessThanThreshold", 0.005),
        "primary-prediction-drift": (emf.PREDICTION_METRIC, "Maximum", "GreaterThanThreshold", 0.3),
        "primary-prediction-drift-pvalue": (
            emf.PREDICTION_PVALUE_METRIC,
            "Minimum",
            "LessThanThreshold",
            0.005,
        ),
    }
    for name, (metric, stat, comparison, level) in expected.items():
        alarm = hooked.alarms[name]
        assert alarm["Namespace"] == emf.NAMESPACE
        assert (alarm["MetricName"], alarm["Statistic"]) == (metric, stat)
        assert (alarm["ComparisonOperator"], alarm["Threshold"]) == (comparison, level)
        assert sorted(alarm["Dimensions"], key=lambda d: d["Name"]) == dims
        assert alarm["TreatMissingData"] == "notBreaching"


def test_quality_alarm_reads_the_metric_only_over_enough_outcomes(hooked) -> None:
    alarm = hooked.alarms["primary-quality"]
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("LessThanThreshold", 0.7)
    queries = {q["Id"]: q for q in alarm["Metrics"]}
    quality = queries["quality"]["MetricStat"]
    assert quality["Metric"]["MetricName"] == CLOUDWATCH_QUALITY_METRIC.format(metric="auc")
    assert quality["Stat"] == "Minimum"  # the worst worker's AUC
    assert (
        queries["samples"]["MetricStat"]["Metric"]["MetricName"]
        == CLOUDWATCH_QUALITY_SAMPLES_METRIC
    )
    assert queries["gated"]["Expression"] == "IF(samples >= 200, quality)"
    assert queries["gated"]["ReturnData"] is True


def test_an_error_metric_alarms_above_its_ceiling(spec_for) -> None:
    from inferstack.components.aws.alarms import quality_alarm
    from inferstack.components.aws.common import names_for

    spec = spec_for(
        {"observability": {"alarms": {"quality_metric": "rmse", "quality_threshold": 3.5}}}
    )
    (alarm,) = quality_alarm(spec, names_for("m", spec, "s"), "primary")
    assert (alarm.comparison, alarm.threshold) == ("GreaterThanThreshold", 3.5)
    assert alarm.queries[0]["metric"]["stat"] == "Maximum"


def test_one_rule_per_reason_matches_exactly_those_alarms_entering_alarm(hooked) -> None:
    assert set(hooked.rules) == {
        f"{ENDPOINT}-retrain-drift",
        f"{ENDPOINT}-retrain-prediction-drift",
        f"{ENDPOINT}-retrain-quality",
    }
    watched = {}
    for name, rule in hooked.rules.items():
        pattern = json.loads(rule["EventPattern"])
        assert pattern["source"] == ["aws.cloudwatch"]
        assert pattern["detail-type"] == [ALARM_EVENT_TYPE]
        assert pattern["detail"]["state"] == {"value": ["ALARM"]}
        watched[name.removeprefix(f"{ENDPOINT}-retrain-")] = pattern["detail"]["alarmName"]
    assert watched == {
        "drift": [f"{ENDPOINT}-primary-drift", f"{ENDPOINT}-primary-drift-pvalue"],
        "prediction-drift": [
            f"{ENDPOINT}-primary-prediction-drift",
            f"{ENDPOINT}-primary-prediction-drift-pvalue",
        ],
        "quality": [f"{ENDPOINT}-primary-quality"],
    }
    every = {a for names in watched.values() for a in names}
    assert every <= {f"{ENDPOINT}-{a}" for a in hooked.alarms}
    assert f"{ENDPOINT}-primary-latency-p99" not in every  # latency never retrains


def test_eventbridges_matcher_sends_a_real_alarm_event_to_its_rule_only(hooked) -> None:
    """moto's EventBridge pattern matcher (TestEventPattern itself is not in moto)."""
    event = _alarm_event(f"{ENDPOINT}-primary-drift-pvalue")
    found = {
        name: EventPattern.load(rule["EventPattern"]).matches_event(event)
        for name, rule in hooked.rules.items()
    }
    assert found == {
        f"{ENDPOINT}-retrain-drift": True,
        f"{ENDPOINT}-retrain-prediction-drift": False,
        f"{ENDPOINT}-retrain-quality": False,
    }
    back_to_ok = {**event, "detail": {**event["detail"], "state": {"value": "OK"}}}
    rule = hooked.rules[f"{ENDPOINT}-retrain-drift"]
    assert not EventPattern.load(rule["EventPattern"]).matches_event(back_to_ok)


def test_each_rule_sends_the_bus_and_the_webhook_a_payload_valid_against_the_schema(
    hooked,
) -> None:
    sfn = hooked.mocks.client("stepfunctions")
    machines = sfn.list_state_machines()["stateMachines"]
    (machine,) = [m for m in machines if m["name"] == f"{ENDPOINT}-retrain"]
    destinations = hooked.mocks.client("events").list_api_destinations()["ApiDestinations"]
    (destination,) = [d for d in destinations if d["Name"] == f"{ENDPOINT}-retrain"]
    for name, targets in hooked.targets.items():
        reason = name.removeprefix(f"{ENDPOINT}-retrain-").replace("-", "_")
        by_arn = {t["Arn"]: t for t in targets}
        assert set(by_arn) == {machine["stateMachineArn"], destination["ApiDestinationArn"]}
        event = _alarm_event(f"{ENDPOINT}-primary-x")
        bus = _transform(by_arn[machine["stateMachineArn"]]["InputTransformer"], event)
        hook = _transform(by_arn[destination["ApiDestinationArn"]]["InputTransformer"], event)
        jsonschema.validate(bus, retrain_schema(), format_checker=jsonschema.FormatChecker())
        assert hook == {"event_type": RETRAIN_EVENT_TYPE, "client_payload": bus}
        assert bus["reason"] == reason
        assert bus["version"] == RETRAIN_EVENT_VERSION
        assert bus["alarm"] == {"name": f"{ENDPOINT}-primary-x", "state": "ALARM"}
        assert (bus["endpoint"], bus["model"]) == (ENDPOINT, {"name": "churn", "version": "1.2.0"})
        assert bus["time"] == event["time"]


def test_the_state_machine_puts_the_event_on_the_default_bus(hooked) -> None:
    definition = state_machine_definition()
    (entry,) = definition["States"]["Publish"]["Parameters"]["Entries"]
    assert (entry["Source"], entry["DetailType"]) == (RETRAIN_EVENT_SOURCE, RETRAIN_EVENT_TYPE)
    assert entry["Detail.$"] == "$"
    assert entry["EventBusName"] == "default"
    assert definition["States"]["Publish"]["Resource"] == "arn:aws:states:::events:putEvents"


def test_the_webhook_carries_the_url_and_the_secret_header(hooked) -> None:
    events = hooked.mocks.client("events")
    destination = events.describe_api_destination(Name=f"{ENDPOINT}-retrain")
    assert (destination["InvocationEndpoint"], destination["HttpMethod"]) == (URL, "POST")
    connection = events.describe_connection(Name=f"{ENDPOINT}-retrain")
    assert connection["AuthorizationType"] == "API_KEY"
    assert connection["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyName"] == "Authorization"


def test_eventbridges_role_may_start_the_machine_and_call_the_webhook(hooked) -> None:
    iam = hooked.mocks.client("iam")
    targets = [t for ts in hooked.targets.values() for t in ts]
    (role_arn,) = {t["RoleArn"] for t in targets}
    role = role_arn.rsplit("/", 1)[1]
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "events.amazonaws.com"}
    (policy,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
    actions = {s["Action"]: s["Resource"] for s in document["Statement"]}
    assert set(actions) == {"states:StartExecution", "events:InvokeApiDestination"}
    assert actions["events:InvokeApiDestination"] in {t["Arn"] for t in targets}


def test_without_the_hook_no_rule_is_made(deploy, spec_for) -> None:
    spec = spec_for({**LEAN, "observability": {"alarms": ALARMS}})
    deployed = deploy(spec, name="quiet")
    assert not deployed.client("events").list_rules(NamePrefix="quiet-test")["Rules"]
    assert "primary-quality" in {
        a["AlarmName"].removeprefix("quiet-test-")
        for a in deployed.client("cloudwatch").describe_alarms(AlarmNamePrefix="quiet-test-")[
            "MetricAlarms"
        ]
    }


def _alarm_event(alarm: str) -> dict[str, Any]:
    """A CloudWatch Alarm State Change event in the shape AWS documents."""
    return {
        "version": "0",
        "id": "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
        "detail-type": ALARM_EVENT_TYPE,
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": "2026-12-01T21:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:cloudwatch:{REGION}:123456789012:alarm:{alarm}"],
        "detail": {
            "alarmName": alarm,
            "state": {"value": "ALARM", "reason": "Threshold Crossed", "timestamp": "x"},
            "previousState": {"value": "OK", "reason": "", "timestamp": "x"},
            "configuration": {"metrics": []},
        },
    }


def _transform(transformer: dict[str, Any], event: dict[str, Any]) -> Any:
    """EventBridge's input transformer for the dot-path variables the hook uses."""
    assert transformer["InputPathsMap"] == INPUT_PATHS

    def lookup(path: str) -> Any:
        value: Any = event
        for part in path.removeprefix("$.").split("."):
            value = value[part]
        return value

    values = {var: lookup(path) for var, path in transformer["InputPathsMap"].items()}
    text = re.sub(r"<([a-z]+)>", lambda m: str(values[m.group(1)]), transformer["InputTemplate"])
    return json.loads(text)


def test_the_dashboard_charts_drift_per_feature_prediction_drift_and_quality(hooked) -> None:
    body = json.loads(
        hooked.mocks.client("cloudwatch").get_dashboard(DashboardName=ENDPOINT)["DashboardBody"]
    )
    widgets = {w["properties"]["title"]: w["properties"]["metrics"] for w in body["widgets"]}
    (search,) = widgets["Input drift (PSI) per feature"][0]
    assert f'EndpointName="{ENDPOINT}" {emf.DRIFT_METRIC}' in search["expression"]
    named = {
        title: {m[1] for m in metrics if isinstance(m[0], str)}
        for title, metrics in widgets.items()
    }
    assert named["Input drift: smallest test p-value"] == {emf.PVALUE_METRIC}
    assert named["Prediction drift (PSI; p-value on the right)"] == {
        emf.PREDICTION_METRIC,
        emf.PREDICTION_PVALUE_METRIC,
    }
    assert named["Live quality (joined outcomes on the right)"] == {
        CLOUDWATCH_QUALITY_METRIC.format(metric="auc"),
        CLOUDWATCH_QUALITY_SAMPLES_METRIC,
    }
