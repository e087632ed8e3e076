"""The Grafana files the local stack uploads, checked against Grafana's own dashboard
model: grafana-foundation-sdk (Apache-2.0, Grafana Labs), the types generated from
Grafana's dashboard schema, in its build for Grafana 11.2 (the image the stack runs,
grafana/grafana-oss:11.2.2).

Reading the dashboard into those types and writing it back keeps every field the
schema knows, with panel options and field config typed by panel plugin and queries by
datasource: a field that comes back missing is one Grafana's schema does not have (a
typo, or a field of another version).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from inferstack.components.plan.run import run_plan
from tests.conftest import ROOT

sdk = pytest.importorskip(
    "grafana_foundation_sdk", reason="pip install 'grafana-foundation-sdk==1769699630!11.2.0'"
)
from grafana_foundation_sdk.cog import plugins, runtime  # noqa: E402
from grafana_foundation_sdk.cog.encoder import JSONEncoder  # noqa: E402
from grafana_foundation_sdk.models.dashboard import Dashboard  # noqa: E402

DASHBOARD_FILE = "/etc/grafana/dashboards/inferstack.json"


def dropped(before: Any, after: Any, path: str = "") -> list[str]:
    """Paths present in `before` and missing or different in `after`."""
    if isinstance(before, dict):
        if not isinstance(after, dict):
            return [path or "/"]
        return [
            p
            for key, value in before.items()
            for p in (
                [f"{path}/{key}"]
                if key not in after
                else dropped(value, after[key], f"{path}/{key}")
            )
        ]
    if isinstance(before, list):
        if not isinstance(after, list) or len(after) != len(before):
            return [path]
        return [
            p
            for i, (b, a) in enumerate(zip(before, after, strict=True))
            for p in dropped(b, a, f"{path}[{i}]")
        ]
    return [] if before == after else [path]


def round_trip(dashboard: dict[str, Any]) -> dict[str, Any]:
    plugins.register_default_plugins()
    return json.loads(json.dumps(Dashboard.from_json(dashboard), cls=JSONEncoder))


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    plan = run_plan("local", ROOT)
    (grafana,) = [r for r in plan.resources if r.name == "local-monitoring-grafana"]
    files = {u["file"]: u["content"] for u in grafana.inputs["uploads"]}
    return json.loads(files[DASHBOARD_FILE])


def test_every_field_of_the_dashboard_is_in_grafanas_schema(dashboard: dict[str, Any]) -> None:
    assert dropped(dashboard, round_trip(dashboard)) == []
    for panel in dashboard["panels"]:
        assert runtime.panelcfg_config(panel["type"]) is not None, panel["type"]
        for target in panel["targets"]:
            typed = runtime.dataquery_from_json(target, "")
            assert type(typed).__module__.endswith(".prometheus"), target


@pytest.mark.parametrize(
    ("where", "typo"),
    [
        (lambda d: d, "refreshh"),
        (lambda d: d["panels"][0], "gridpos"),
        (lambda d: d["panels"][0]["fieldConfig"]["defaults"], "unitt"),
        (lambda d: d["panels"][0]["targets"][0], "exprr"),
    ],
)
def test_the_check_catches_a_field_grafana_does_not_know(
    dashboard: dict[str, Any], where: Any, typo: str
) -> None:
    broken = json.loads(json.dumps(dashboard))
    where(broken)[typo] = "x"
    assert any(p.endswith(f"/{typo}") for p in dropped(broken, round_trip(broken)))
