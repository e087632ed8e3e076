"""GKE's drift and quality alert policies and the retraining channels, under the mocks.

The policies' PromQL reads the runtime's metric names (runtime/contract.py) over managed
Prometheus; with `observability.retraining` on they notify a Pub/Sub channel (whose topic
the notification service agent may publish to) and a webhook channel. A Cloud Monitoring
notification as Google documents it maps to a retraining event valid against the schema.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from inferstack.components.gcp.observability import (
    RETRAIN_LABEL,
    GkeObservability,
    GkeObservabilityArgs,
    retrain_event_from_incident,
)
from inferstack.components.monitoring.retrain_event import retrain_schema
from inferstack.components.plan.mocks import PlanMocks
from inferstack.components.plan.run import Plan, PlannedResource, run_under_mocks
from inferstack.runtime.contract import Metric
from tests.components.gcp.conftest import context, gke_spec

POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"
URL = "https://hooks.example.com/retrain?token=abc"
OBSERVABILITY = {
    "alarms": {
        "drift_score": 0.25,
        "drift_pvalue": 0.005,
        "prediction_drift_score": 0.3,
        "quality_metric": "accuracy",
        "quality_threshold": 0.8,
        "quality_min_samples": 150,
    },
    "retraining": {"event_bus": True, "webhook_url_secret": "retrainWebhookUrl"},
}


def _plan(observability: dict[str, Any]) -> Plan:
    spec = gke_spec(observability=observability)
    mocks = PlanMocks(
        call_fakes={"gcp:organizations/getProject:getProject": lambda _: {"number": "4242"}}
    )
    return run_under_mocks(
        lambda: GkeObservability("obs", GkeObservabilityArgs(context(spec))),
        mocks=mocks,
        config={"inferstack:retrainWebhookUrl": URL},
    )


@pytest.fixture(scope="module")
def plan() -> Plan:
    return _plan(OBSERVABILITY)


def _policies(plan: Plan) -> dict[str, PlannedResource]:
    return {r.inputs["displayName"].split(": ", 1)[1]: r for r in plan.of_type(POLICY)}


def _query(policy: PlannedResource) -> str:
    (condition,) = policy.inputs["conditions"]
    query: str = condition["conditionPrometheusQueryLanguage"]["query"]
    return query


def test_drift_and_quality_policies_read_the_runtimes_metrics(plan: Plan) -> None:
    policies = _policies(plan)
    ns = 'namespace="churn-prod"'
    assert _query(policies["drift score"]) == f"max({Metric.DRIFT_SCORE}{{{ns}}}) > 0.25"
    assert _query(policies["drift p-value"]) == f"min({Metric.DRIFT_PVALUE}{{{ns}}}) < 0.005"
    assert _query(policies["prediction drift"]) == (
        f"max by (version) ({Metric.PREDICTION_DRIFT_SCORE}{{{ns}}}) > 0.3"
    )
    assert _query(policies["prediction drift p-value"]) == (
        f"min by (version) ({Metric.PREDICTION_DRIFT_PVALUE}{{{ns}}}) < 0.005"
    )
    quality = _query(policies["live quality"])
    assert f'{Metric.QUALITY}{{{ns},metric="accuracy"}}) < 0.8' in quality
    assert f"sum by (version) ({Metric.QUALITY_SAMPLES}{{{ns}}}) >= 150" in quality


def test_each_acting_policy_notifies_pubsub_and_the_webhook(plan: Plan) -> None:
    channels = {r.name: r for r in plan.of_type(CHANNEL)}
    pubsub, webhook = channels["obs-retrain-pubsub"], channels["obs-retrain-webhook"]
    assert pubsub.inputs["type"] == "pubsub"
    assert pubsub.inputs["labels"]["topic"]  # the topic's id (projects/P/topics/T)
    assert webhook.inputs["type"] == "webhook_tokenauth"
    assert webhook.inputs["labels"] == "[secret]"  # the URL stays a secret in state
    assert webhook.raw_inputs["labels"]["value"] == {"url": URL}
    acting = {
        name: p for name, p in _policies(plan).items() if RETRAIN_LABEL in p.inputs["userLabels"]
    }
    assert set(acting) == {
        "drift score",
        "drift p-value",
        "prediction drift",
        "prediction drift p-value",
        "live quality",
    }
    for policy in acting.values():
        assert len(policy.inputs["notificationChannels"]) == 2
    assert _policies(plan)["p99 latency"].inputs["notificationChannels"] == []


def test_the_notification_agent_may_publish_to_the_topic(plan: Plan) -> None:
    (grant,) = plan.of_type("gcp:pubsub/topicIAMMember:TopicIAMMember")
    assert grant.inputs["role"] == "roles/pubsub.publisher"
    assert grant.inputs["member"] == (
        "serviceAccount:service-4242@gcp-sa-monitoring-notification.iam.gserviceaccount.com"
    )
    (topic,) = plan.of_type("gcp:pubsub/topic:Topic")
    assert grant.inputs["topic"] == topic.inputs["name"]


def test_a_notification_maps_to_a_valid_retraining_event(plan: Plan) -> None:
    policy = _policies(plan)["prediction drift"]
    content = policy.inputs["documentation"]["content"]
    display = policy.inputs["displayName"]
    # Cloud Monitoring substitutes ${policy.display_name} in the documentation
    rendered = content.replace("${policy.display_name}", display)
    notification = {
        "version": "1.2",
        "incident": {
            "incident_id": "0.opqiw61fsv7p",
            "scoping_project_id": "inferstack-prod",
            "policy_name": display,
            "condition_name": "prediction drift",
            "state": "open",
            "started_at": 1764622800,
            "summary": "prediction drift above threshold",
            "documentation": {"content": rendered, "mime_type": "text/markdown"},
        },
    }
    event = retrain_event_from_incident(json.loads(json.dumps(notification)))
    jsonschema.validate(event, retrain_schema(), format_checker=jsonschema.FormatChecker())
    assert event["reason"] == "prediction_drift"
    assert event["alarm"] == {"name": display, "state": "open"}
    assert event["time"] == "2025-12-01T21:00:00Z"
    assert (event["target"], event["model"]["version"]) == ("gcp", "1.1.0")


def test_without_retraining_no_channel_and_no_quality_policy_without_a_metric() -> None:
    plan = _plan({})
    assert not plan.of_type(CHANNEL)
    assert not plan.of_type("gcp:pubsub/topic:Topic")
    assert "live quality" not in _policies(plan)
    assert "drift p-value" in _policies(plan)
