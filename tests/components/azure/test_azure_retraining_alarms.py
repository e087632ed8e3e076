"""Azure's drift and quality alerts and the retraining webhook, under the mocks.

The runtime's metrics reach Azure Monitor as its EMF JSON lines in the endpoint's console
log (Log Analytics), so the alerts are log search alerts over those fields, named as
runtime/emf.py and the contract name them. With a webhook, the acting alerts call a second
action group (common alert schema) and carry the event's fields as custom properties; a
common-alert-schema body as Azure documents it maps to an event valid against the schema.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import yaml

from inferstack.components.azure.context import AzureContext, names_for
from inferstack.components.azure.observability import (
    Observability,
    ObservabilityArgs,
    retrain_event_from_common_alert,
    retrain_log_alerts,
)
from inferstack.components.errors import SpecError
from inferstack.components.monitoring.retrain_event import retrain_schema
from inferstack.components.plan.mocks import PlanMocks
from inferstack.components.plan.run import Plan, PlannedResource, run_under_mocks
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime import emf
from inferstack.runtime.contract import CLOUDWATCH_QUALITY_METRIC
from tests.components.azure.test_monitor_names import KQL_NAMES, TABLES, _columns
from tests.conftest import ROOT

RULE = "azure-native:monitor:ScheduledQueryRule"
GROUP = "azure-native:monitor:ActionGroup"
URL = "https://relay.example.com/api/retrain?code=abc"
ALARMS = {
    "drift_pvalue": 0.005,
    "prediction_drift_score": 0.3,
    "quality_metric": "mae",
    "quality_threshold": 4.5,
    "quality_min_samples": 300,
}


def _spec(retraining: dict[str, Any]) -> DeploymentSpec:
    config = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod-azure.yaml").read_text())
    data = config["config"]["inferstack:deployment"]
    data.setdefault("observability", {})["alarms"] = ALARMS
    data["observability"]["retraining"] = retraining
    return DeploymentSpec.model_validate(data)


def _plan(spec: DeploymentSpec) -> Plan:
    ctx = AzureContext(
        "churn", spec, names_for(spec, "inferstack", "test"), "westeurope", {"team": "ml"}
    )
    args = ObservabilityArgs(
        ctx=ctx,
        resource_group_name="rg",
        log_analytics_id="/subscriptions/s/resourceGroups/rg/providers/x/workspaces/log",
        endpoint_id="/subscriptions/s/endpoint",
        deployment_ids={},
        apim_id="/subscriptions/s/apim",
    )
    return run_under_mocks(
        lambda: Observability("obs", args),
        mocks=PlanMocks(),
        config={"inferstack:retrainWebhookUrl": URL},
    )


@pytest.fixture(scope="module")
def plan() -> Plan:
    return _plan(_spec({"webhook_url_secret": "retrainWebhookUrl"}))


def _rules(plan: Plan) -> dict[str, PlannedResource]:
    return {r.name.removeprefix("obs-"): r for r in plan.of_type(RULE)}


def test_acting_alerts_read_the_runtimes_emf_fields(plan: Plan) -> None:
    rules = _rules(plan)
    expected = {
        "drift": (emf.DRIFT_METRIC, "GreaterThan", 0.2),
        "driftp": (emf.PVALUE_METRIC, "LessThan", 0.005),
        "pdrift": (emf.PREDICTION_METRIC, "GreaterThan", 0.3),
        "pdriftp": (emf.PREDICTION_PVALUE_METRIC, "LessThan", 0.005),
        "quality": (CLOUDWATCH_QUALITY_METRIC.format(metric="mae"), "GreaterThan", 4.5),
    }
    for what, (field, operator, threshold) in expected.items():
        (criterion,) = rules[what].inputs["criteria"]["allOf"]
        assert field in criterion["query"], what
        assert (criterion["operator"], criterion["threshold"]) == (operator, threshold)
        table, names = _columns(criterion["query"])
        assert not names - TABLES[table] - KQL_NAMES, what
    quality = rules["quality"].inputs["criteria"]["allOf"][0]["query"]
    assert 'todouble(Emf["QualitySamples"]) >= 300' in quality
    assert rules["quality"].inputs["criteria"]["allOf"][0]["timeAggregation"] == "Maximum"


def test_acting_alerts_call_the_webhook_group_with_the_events_fields(plan: Plan) -> None:
    groups = {g.name: g for g in plan.of_type(GROUP)}
    hook = groups["obs-retrain-group"]
    assert hook.inputs["webhookReceivers"] == "[secret]"  # the URL stays a secret
    (receiver,) = hook.raw_inputs["webhookReceivers"]["value"]
    assert receiver["serviceUri"] == URL
    assert receiver["useCommonAlertSchema"] is True
    rules = _rules(plan)
    for what in ("drift", "driftp", "pdrift", "pdriftp", "quality"):
        actions = rules[what].inputs["actions"]
        assert len(actions["actionGroups"]) == 2, what
        assert actions["customProperties"]["inferstack.reason"] in {
            "drift",
            "prediction_drift",
            "quality",
        }
    assert "customProperties" not in rules["5xx"].inputs["actions"]
    assert len(rules["5xx"].inputs["actions"]["actionGroups"]) == 1


def test_a_common_alert_maps_to_a_valid_retraining_event(plan: Plan) -> None:
    rule = _rules(plan)["quality"].inputs
    body = {
        "schemaId": "azureMonitorCommonAlertSchema",
        "data": {
            "essentials": {
                "alertId": "/subscriptions/s/providers/Microsoft.AlertsManagement/alerts/1",
                "alertRule": rule["ruleName"],
                "severity": "Sev2",
                "signalType": "Log",
                "monitorCondition": "Fired",
                "monitoringService": "Log Alerts V2",
                "firedDateTime": "2026-12-01T21:00:00.1234567Z",
            },
            "alertContext": {},
            "customProperties": rule["actions"]["customProperties"],
        },
    }
    event = retrain_event_from_common_alert(body)
    jsonschema.validate(event, retrain_schema(), format_checker=jsonschema.FormatChecker())
    assert event["reason"] == "quality"
    assert event["alarm"] == {"name": rule["ruleName"], "state": "Fired"}


def test_without_retraining_the_alerts_still_exist_with_one_group() -> None:
    plan = _plan(_spec({}))
    assert len(plan.of_type(GROUP)) == 1
    assert {"drift", "driftp", "pdrift", "pdriftp", "quality", "5xx"} == set(_rules(plan))


def test_the_event_bus_is_refused_naming_the_key() -> None:
    with pytest.raises(SpecError) as err:
        _plan(_spec({"event_bus": True}))
    assert "observability.retraining.event_bus" in str(err.value)
    assert "Event Grid" in str(err.value)


def test_no_quality_alert_without_a_quality_metric() -> None:
    spec = _spec({})
    spec = spec.model_copy(
        update={
            "observability": spec.observability.model_copy(
                update={
                    "alarms": spec.observability.alarms.model_copy(
                        update={"quality_metric": None, "quality_threshold": None}
                    )
                }
            )
        }
    )
    ctx = AzureContext("c", spec, names_for(spec, "p", "s"), "westeurope", {})
    assert [a[0] for a in retrain_log_alerts(ctx)] == ["drift", "driftp", "pdrift", "pdriftp"]


def test_the_workbook_charts_drift_per_feature_prediction_drift_and_quality(plan: Plan) -> None:
    import json

    (book,) = plan.of_type("azure-native:applicationinsights:Workbook")
    items = json.loads(book.inputs["serializedData"])["items"]
    logs = {i["name"]: i["content"] for i in items if i["type"] == 3}
    assert set(logs) == {
        "Input drift (PSI) per feature",
        "Prediction drift (PSI, p-value)",
        "Live quality",
        "Joined outcomes",
    }
    for content in logs.values():
        assert content["crossComponentResources"] == [
            "/subscriptions/s/resourceGroups/rg/providers/x/workspaces/log"
        ]
        assert content["query"].startswith("AmlOnlineEndpointConsoleLog")
    assert f'startswith "{emf.DRIFT_METRIC}."' in logs["Input drift (PSI) per feature"]["query"]
    assert emf.PREDICTION_PVALUE_METRIC in logs["Prediction drift (PSI, p-value)"]["query"]
    assert 'startswith "Quality."' in logs["Live quality"]["query"]
