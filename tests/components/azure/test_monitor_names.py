"""Every metric and log column the Azure stacks name exists in Azure Monitor: the mocks
accept any name, Azure refuses an alert on an unknown metric or a query on an unknown
column when the rule is created. The tables below are copied from Azure's reference
pages (quoted per constant)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from inferstack.components.azure.observability import drift_query, five_xx_query
from inferstack.components.plan.run import Plan, run_plan

METRICS: dict[str, set[str]] = {
    # "Supported metrics for Microsoft.MachineLearningServices/workspaces/onlineEndpoints"
    "microsoft.machinelearningservices/workspaces/onlineendpoints": {
        "ConnectionsActive",
        "DataCollectionErrorsPerMinute",
        "DataCollectionEventsPerMinute",
        "NetworkBytes",
        "NewConnectionsPerSecond",
        "RequestLatency",
        "RequestLatency_P50",
        "RequestLatency_P90",
        "RequestLatency_P95",
        "RequestLatency_P99",
        "RequestsPerMinute",
    },
    # "Supported metrics for .../workspaces/onlineEndpoints/deployments" (the full list)
    "microsoft.machinelearningservices/workspaces/onlineendpoints/deployments": {
        "CpuMemoryUtilizationPercentage",
        "CpuUtilizationPercentage",
        "DataCollectionErrorsPerMinute",
        "DataCollectionEventsPerMinute",
        "DeploymentCapacity",
        "DiskUtilization",
        "GpuEnergyJoules",
        "GpuMemoryUtilizationPercentage",
        "GpuUtilizationPercentage",
        "RequestLatency_P50",
        "RequestLatency_P90",
        "RequestLatency_P95",
        "RequestLatency_P99",
        "RequestsPerMinute",
    },
}
TABLES: dict[str, set[str]] = {
    # azure-monitor/reference/tables/amlonlineendpointconsolelog
    "AmlOnlineEndpointConsoleLog": {
        "ContainerImageName",
        "ContainerName",
        "DeploymentName",
        "InstanceId",
        "Message",
        "OperationName",
        "_ResourceId",
        "SourceSystem",
        "TenantId",
        "TimeGenerated",
        "Type",
    },
    # azure-monitor/reference/tables/amlonlineendpointtrafficlog (the columns used here)
    "AmlOnlineEndpointTrafficLog": {
        "AuthType",
        "DeploymentName",
        "EndpointName",
        "Method",
        "ModelStatusCode",
        "ResponseCode",
        "ResponseCodeReason",
        "_ResourceId",
        "TimeGenerated",
        "TotalDurationMs",
    },
}
KQL_NAMES = {
    "Total",
    "Errors",
    "ErrorRate",
    "Emf",
    "DriftScore",
    "DriftPValue",
    "PredictionDrift",
    "PredictionDriftPValue",
    "Quality",
}
"""Columns the queries define themselves (summarize/extend), not table columns."""


@pytest.fixture(scope="module", params=["prod-azure", "staging-azure", "dev-azure"])
def plan(request: pytest.FixtureRequest) -> Plan:
    return run_plan(request.param)


def _known(namespace: str, metric: str) -> bool:
    return metric in METRICS.get(namespace.lower(), set())


def test_metric_alerts_name_published_metrics(plan: Plan) -> None:
    alerts = plan.of_type("azure-native:monitor:MetricAlert")
    assert alerts
    for alert in alerts:
        for criterion in alert.inputs["criteria"]["allOf"]:
            assert _known(criterion["metricNamespace"], criterion["metricName"]), alert.name


def test_autoscale_rules_name_published_metrics(plan: Plan) -> None:
    for setting in plan.of_type("azure-native:monitor:AutoscaleSetting"):
        for profile in setting.inputs["profiles"]:
            for rule in profile["rules"]:
                trigger = rule["metricTrigger"]
                assert _known(trigger["metricNamespace"], trigger["metricName"]), setting.name


def test_workbook_charts_name_published_metrics(plan: Plan) -> None:
    books = plan.of_type("azure-native:applicationinsights:Workbook")
    for book in books:
        data: dict[str, Any] = json.loads(book.inputs["serializedData"])
        for item in (i for i in data["items"] if i["type"] == 10):  # metric charts
            for metric in item["content"]["metrics"]:
                namespace, name = metric["metric"].split("--")
                assert _known(metric["namespace"], name), name
                assert namespace == metric["namespace"]


def test_gpu_kinds_alert_on_gpu_memory() -> None:
    names = {
        c["metricName"]
        for a in run_plan("staging-azure").of_type("azure-native:monitor:MetricAlert")
        for c in a.inputs["criteria"]["allOf"]
    }
    assert {"CpuMemoryUtilizationPercentage", "GpuMemoryUtilizationPercentage"} <= names
    assert "MemoryUtilizationPercentage" not in names


def _columns(query: str) -> tuple[str, set[str]]:
    """The table a query reads and the capitalised names it uses, outside string literals
    and after `Emf.` (fields of the parsed EMF line)."""
    bare = re.sub(r'"[^"]*"', '""', query)
    bare = re.sub(r"Emf\.\w+", "Emf", bare)
    table, _, rest = bare.partition("|")
    return table.strip(), set(re.findall(r"\b_?[A-Z]\w*\b", rest))


@pytest.mark.parametrize("query", [five_xx_query("churn-x"), drift_query("churn-x")])
def test_log_queries_name_columns_of_their_table(query: str) -> None:
    table, names = _columns(query)
    unknown = names - TABLES[table] - KQL_NAMES
    assert not unknown, f"{table} has no column(s) {sorted(unknown)}"


def test_log_queries_pick_the_endpoint_by_resource_id() -> None:
    for query in (five_xx_query("Churn-X"), drift_query("Churn-X")):
        assert '_ResourceId endswith "/onlineendpoints/churn-x"' in query


def test_log_alerts_in_the_plan_use_those_queries(plan: Plan) -> None:
    for rule in plan.of_type("azure-native:monitor:ScheduledQueryRule"):
        table, names = _columns(rule.inputs["criteria"]["allOf"][0]["query"])
        assert not names - TABLES[table] - KQL_NAMES, rule.name
