"""The runtime contract holds across the tree: what components set, the runtime reads.

Every environment variable a target's component sets on the runtime container must be
one `RuntimeSettings` reads (`contract.RUNTIME_ENV`); every metric the alert rules and
dashboards query must be one the runtime exports.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from inferstack.components.local.alerts import alert_rules
from inferstack.components.local.dashboard import dashboard
from inferstack.components.plan import PlannedResource, run_plan
from inferstack.components.spec import AlarmThresholds
from inferstack.runtime import contract

RUNTIME_STACKS = ("local", "dev-aws", "prod-aws")


def container_env_names(resource: PlannedResource) -> set[str]:
    """Names of the environment variables a resource sets on a runtime container."""
    inputs = _unwrap(resource.raw_inputs or resource.inputs)
    if resource.type == "docker:index/container:Container":
        return {str(entry).partition("=")[0] for entry in inputs.get("envs") or []}
    if resource.type == "aws:sagemaker/model:Model":
        containers = [inputs.get("primaryContainer") or {}, *(inputs.get("containers") or [])]
        return {name for c in containers for name in (c.get("environment") or {})}
    return set()


def _unwrap(value: Any) -> Any:
    """`value` with Pulumi's secret markers removed (the API key env is a secret)."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return _unwrap(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_unwrap(v) for v in value]
    return value


def runtime_env_set_by(stack: str) -> set[str]:
    plan = run_plan(stack)
    names = set().union(*(container_env_names(r) for r in plan.resources))
    return {n for n in names if n.startswith(contract.ENV_PREFIX)}


@pytest.mark.parametrize("stack", RUNTIME_STACKS)
def test_components_set_only_variables_the_runtime_reads(stack: str) -> None:
    set_here = runtime_env_set_by(stack)
    assert set_here, f"{stack}: no INFERSTACK_* variable found on a runtime container"
    unread = set_here - contract.RUNTIME_ENV
    assert not unread, f"{stack} sets {sorted(unread)}, which the runtime never reads"


def test_the_check_catches_a_variable_nobody_reads() -> None:
    resource = PlannedResource(
        type="docker:index/container:Container",
        name="x",
        parent=None,
        inputs={"envs": ["INFERSTACK_MODEL_NAME=a", "INFERSTACK_NOT_A_SETTING=1"]},
        custom=True,
        urn="urn:x",
    )
    assert container_env_names(resource) - contract.RUNTIME_ENV == {"INFERSTACK_NOT_A_SETTING"}


def test_every_runtime_setting_is_in_the_contract() -> None:
    from inferstack.runtime.settings import RuntimeSettings

    read = set()
    for name, field in RuntimeSettings.model_fields.items():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None) or [f"{contract.ENV_PREFIX}{name.upper()}"]
        read |= {str(c) for c in choices if str(c).startswith(contract.ENV_PREFIX)}
    assert read == contract.RUNTIME_ENV


def _metric_names(text: str) -> set[str]:
    names = set(re.findall(r"\binferstack_[a-z_]+", text))
    return {re.sub(r"_(total|bucket|sum|count)$", "", n) for n in names}


def test_alerts_and_dashboards_query_only_exported_metrics() -> None:
    exported = set(contract.public_names(contract.Metric).values())
    rules: Any = alert_rules("job", "model", AlarmThresholds())
    queried = _metric_names(yaml.safe_dump(rules)) | _metric_names(
        str(dashboard("uid", "job", "model", AlarmThresholds()))
    )
    assert queried, "no metric found in the rules and dashboard"
    assert queried <= exported, f"not exported by the runtime: {sorted(queried - exported)}"
