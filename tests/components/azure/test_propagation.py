"""Consumers of role assignments wait for them to reach the data plane: the wait sleeps
on create, runs again only for a new set of assignments, and sits between the endpoint
identity's grants and the deployments (and API Management's and its named value)."""

from __future__ import annotations

from inferstack.components.azure.propagation import (
    KIND,
    PROPAGATION_S,
    RolePropagationProvider,
)
from inferstack.components.plan.run import run_plan


def test_the_wait_sleeps_on_create_and_only_for_new_assignments() -> None:
    slept: list[float] = []
    provider = RolePropagationProvider(sleep=slept.append)
    props = {"kind": KIND, "assignment_ids": ["/a", "/b"], "seconds": 180}
    result = provider.create(props)
    assert slept == [180.0]
    assert result.outs == props
    same = provider.diff("id", props, {**props, "seconds": 240})
    assert not same.changes
    new = provider.diff("id", props, {**props, "assignment_ids": ["/a", "/c"]})
    assert new.changes
    assert new.replaces == ["assignment_ids"]


def test_the_stack_waits_for_the_endpoint_and_gateway_grants() -> None:
    plan = run_plan("prod-azure")
    waits = {
        r.name: r.inputs
        for r in plan.of_type("pulumi-python:dynamic:Resource")
        if r.inputs.get("kind") == KIND
    }
    assert set(waits) == {
        "churn-logreg-serving-grants-propagation",
        "churn-logreg-gateway-secrets-propagation",
    }
    serving = waits["churn-logreg-serving-grants-propagation"]
    grants = [
        r
        for r in plan.of_type("azure-native:authorization:RoleAssignment")
        if r.parent and r.parent.endswith("churn-logreg-serving")
    ]
    assert len(serving["assignment_ids"]) == len(grants) == 3  # two AcrPull, blob reader
    assert serving["seconds"] == PROPAGATION_S
