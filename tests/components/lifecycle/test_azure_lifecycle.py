"""versions, promote and rollback of an Azure ML online endpoint: the lifecycle's real ARM
client (components/azure/arm.py) against an ARM server on 127.0.0.1, and the stack
config it leaves behind."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.components.azure.context import names_for
from inferstack.components.lifecycle.azure import AzureLifecycle, AzureStackFile
from inferstack.components.lifecycle.rollout import Event, promote, rollback
from inferstack.components.lifecycle.schema import SchemaMismatchError
from inferstack.components.lifecycle.seam import LifecycleError, TargetLifecycle
from inferstack.components.lifecycle.stackfile import StackFileError
from inferstack.components.lifecycle.stacks import Stack, open_stack, project_name
from inferstack.components.spec.config import load_spec
from inferstack.components.spec.models import DeploymentSpec
from tests.components.lifecycle.azure_arm_server import (
    ArmState,
    FakeCredential,
    arm_server,
)
from tests.components.lifecycle.conftest import write_bundle

STACK = "prod-azure"


def no_sleep(_seconds: float) -> None:
    """A sleep that returns at once."""


SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
ROLLOUT = """\
        # green serves the new version; blue keeps the old one until the promote is done
        live_color: green
        previous:
          model_version: 1.0.0
          image_uri: mlplatformacr.azurecr.io/churn-logreg:1.0.0-gpu
          artifact: bundles/v1.0.0
        traffic_percent: 0
"""


@dataclass
class AzureProject:
    """A project folder with the prod-azure stack mid-rollout, and its fake Azure."""

    root: Path
    config: Path
    state: ArmState
    url: str

    def deployment(self) -> dict[str, Any]:
        """The stack config's deployment mapping as it is on disk now."""
        return yaml.safe_load(self.config.read_text())["config"]["inferstack:deployment"]

    def stack(self, sleep: Callable[[float], None] = lambda _s: None) -> Stack:
        """The stack opened as the CLI does, its lifecycle pointed at the fake ARM."""

        def factory(
            spec: DeploymentSpec,
            stack: str,
            _config: dict[str, object],
            root: Path,
            sleep: Callable[[float], None],
        ) -> TargetLifecycle:
            return AzureLifecycle(
                spec,
                project_name(root),
                stack,
                SUBSCRIPTION,
                arm=self.url,
                credential=FakeCredential(),
                sleep=sleep,
                poll_s=5,
            )

        return open_stack(STACK, self.root, sleep=sleep, factory=factory)


@pytest.fixture
def azure(tmp_path: Path, project_root: Path) -> Iterator[AzureProject]:
    """prod-azure with green (1.1.0, no traffic) beside blue (1.0.0, all traffic)."""
    shutil.copy(project_root / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    text = (project_root / "stacks" / f"Pulumi.{STACK}.yaml").read_text()
    text = text.replace("      version: 1.0.0\n", "      version: 1.1.0\n")
    text = text.replace("artifact: examples/logreg-20f/bundle", "artifact: bundles/v1.1.0")
    text = text.replace("churn-logreg:1.0.0-gpu\n", "churn-logreg:1.1.0-gpu\n")
    text = text.replace("        apim_sku: Standard\n", ROLLOUT + "        apim_sku: Standard\n")
    assert "live_color: green" in text, "prod-azure's config changed: update this fixture"
    config = tmp_path / "stacks" / f"Pulumi.{STACK}.yaml"
    config.write_text(text)
    write_bundle(tmp_path / "bundles" / "v1.0.0", "1.0.0")
    write_bundle(tmp_path / "bundles" / "v1.1.0", "1.1.0")
    spec = load_spec(yaml.safe_load(text)["config"]["inferstack:deployment"])
    names = names_for(spec, "inferstack", STACK)
    state = ArmState(
        subscription=SUBSCRIPTION,
        names=names,
        workspace=f"{names.workspace_prefix}-q7x2ab",
        deployments={"blue": "1.0.0", "green": "1.1.0"},
        traffic={"blue": 100},
        registered=["1.0.0", "1.1.0", "1.2.0"],
    )
    with arm_server(state) as url:
        yield AzureProject(tmp_path, config, state, url)


def test_versions_list_deployments_with_shares_and_registered_model_versions(
    azure: AzureProject,
) -> None:
    versions = azure.stack().lifecycle.versions()
    rows = [(v.version, v.state, v.share, v.variant) for v in versions]
    assert rows == [
        ("1.0.0", "serving", 1.0, "blue"),
        ("1.1.0", "standby", 0.0, "green"),
        ("1.2.0", "registered", 0.0, None),
    ]
    assert versions[2].source == "Azure ML model churn-logreg"
    assert versions[0].source == f"endpoint {azure.state.names.endpoint}"


def test_promote_in_steps_moves_the_endpoint_traffic_and_writes_traffic_percent(
    azure: AzureProject,
) -> None:
    seen: list[dict[str, int]] = []
    before = azure.config.read_text()

    def report(event: Event) -> None:
        if event.kind == "step":
            seen.append(dict(azure.state.traffic))

    done = promote(azure.stack(), "1.1.0", steps=[10, 50], sleep=no_sleep, poll_s=60, report=report)
    assert done.outcome == "promoted"
    assert done.steps_done == [10, 50, 100]
    assert seen == [{"blue": 90, "green": 10}, {"blue": 50, "green": 50}, {"blue": 0, "green": 100}]
    # one PUT per step, each waited out (the endpoint is Updating after a PUT)
    assert len(azure.state.puts()) == 3
    assert azure.deployment()["targets"]["azure"]["traffic_percent"] == 100
    changed = set(azure.config.read_text().splitlines()) ^ set(before.splitlines())
    assert changed == {"        traffic_percent: 0", "        traffic_percent: 100"}


def test_promote_stops_and_rolls_back_when_the_latency_alert_fires(azure: AzureProject) -> None:
    rule = f"{azure.state.names.monitor_prefix}-p99-latency"

    def report(event: Event) -> None:
        if event.kind == "step" and event.step == 2:
            azure.state.fired.add(rule)  # Azure Monitor fires while 50% go to green

    result = promote(
        azure.stack(), "1.1.0", steps=[10, 50], sleep=no_sleep, poll_s=60, report=report
    )
    assert result.outcome == "rolled_back"
    assert result.alarms == [rule]
    assert result.steps_done == [10, 50]
    assert azure.state.traffic == {"blue": 100, "green": 0}
    assert "traffic is back on 1.0.0" in result.message
    assert azure.deployment()["targets"]["azure"]["traffic_percent"] == 0


def test_ctrl_c_in_a_bake_restores_the_split_and_the_config(azure: AzureProject) -> None:
    armed = []

    def report(event: Event) -> None:
        if event.kind == "step":
            armed.append(True)

    def sleep(_seconds: float) -> None:
        if armed:
            armed.clear()
            raise KeyboardInterrupt

    result = promote(azure.stack(sleep), "1.1.0", steps=[25], sleep=sleep, report=report)
    assert result.outcome == "interrupted"
    assert result.steps_done == [25]
    assert azure.state.traffic == {"blue": 100, "green": 0}
    assert "traffic is back as it was" in result.message
    assert "blue (1.0.0) 100%" in result.message
    assert azure.deployment()["targets"]["azure"]["traffic_percent"] == 0


def test_rollback_fast_path_is_one_traffic_update(azure: AzureProject) -> None:
    promote(azure.stack(), "1.1.0", sleep=no_sleep)
    assert azure.state.traffic == {"blue": 0, "green": 100}
    puts = len(azure.state.puts())
    result = rollback(azure.stack())
    assert result.outcome == "rolled_back"
    assert result.version == "1.0.0"
    assert azure.state.traffic == {"blue": 100, "green": 0}
    assert len(azure.state.puts()) == puts + 1
    assert azure.deployment()["targets"]["azure"]["traffic_percent"] == 0
    # the next `pulumi up` reads the same split from the config
    spec = load_spec(azure.deployment())
    from inferstack.components.azure.context import context_for
    from inferstack.components.azure.serving import split

    assert split(context_for("churn-logreg", spec, "inferstack", STACK)) == (
        {"green": 0, "blue": 100},
        {},
    )


def test_an_incompatible_schema_is_refused_naming_the_fields(azure: AzureProject) -> None:
    features = [f"f{i}" for i in range(19)] + ["tenure"]
    write_bundle(azure.root / "bundles" / "v1.1.0", "1.1.0", features)
    with pytest.raises(SchemaMismatchError, match="features removed: f19; features added: tenure"):
        promote(azure.stack(), "1.1.0", sleep=no_sleep)
    assert azure.state.puts() == []


def test_a_split_azure_would_refuse_is_refused_before_any_change(azure: AzureProject) -> None:
    life = azure.stack().lifecycle
    with pytest.raises(LifecycleError, match="send traffic nowhere"):
        life.set_weights({"blue": 0, "green": 0})
    assert azure.state.calls == []
    with pytest.raises(LifecycleError, match="must be finite and >= 0"):
        life.set_weights({"blue": -1, "green": 2})
    assert azure.state.calls == []
    with pytest.raises(LifecycleError, match="has no deployment red"):
        life.set_weights({"blue": 50, "red": 50})
    # green shadows 20% of blue's traffic: Azure ML never mirrors to live traffic
    azure.state.mirror = {"green": 20}
    with pytest.raises(LifecycleError, match="would get live and mirror traffic"):
        promote(azure.stack(), "1.1.0", steps=[10], sleep=no_sleep)
    assert azure.state.puts() == []
    assert azure.state.traffic == {"blue": 100}


def test_whole_percents_are_what_the_endpoint_gets(azure: AzureProject) -> None:
    life = azure.stack().lifecycle
    life.set_weights({"blue": 2, "green": 1})
    assert azure.state.traffic == {"blue": 67, "green": 33}
    assert life.weights() == {"blue": 67.0, "green": 33.0}


def test_a_missing_workspace_or_endpoint_is_named(azure: AzureProject) -> None:
    azure.state.workspace = "mlw-someone-else-abcdef"
    with pytest.raises(LifecycleError, match=r"workspace mlw-churn-logreg-.*found none"):
        azure.stack().lifecycle.versions()
    azure.state.workspace = f"{azure.state.names.workspace_prefix}-q7x2ab"
    azure.state.names = replace(azure.state.names, endpoint="gone")
    with pytest.raises(LifecycleError, match=r"online endpoint .* does not exist"):
        azure.stack().lifecycle.weights()


def test_open_stack_dispatches_to_azure_with_the_subscription(
    azure: AzureProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(LifecycleError, match="no Azure subscription"):
        open_stack(STACK, azure.root).lifecycle.versions()
    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    stack = open_stack(STACK, azure.root)
    assert isinstance(stack.lifecycle, AzureLifecycle)
    assert stack.lifecycle.subscription == SUBSCRIPTION
    assert stack.lifecycle.names.endpoint == azure.state.names.endpoint
    assert isinstance(stack.file, AzureStackFile)
    assert stack.artifact_of("blue") == azure.root / "bundles" / "v1.0.0"
    assert stack.artifact_of("green") == azure.root / "bundles" / "v1.1.0"


def test_stage_on_azure_says_how_a_version_reaches_the_idle_colour(azure: AzureProject) -> None:
    write_bundle(azure.root / "bundles" / "v1.2.0", "1.2.0")
    with pytest.raises(StackFileError, match="idle colour"):
        promote(
            azure.stack(),
            "1.2.0",
            stage=True,
            bundle=azure.root / "bundles" / "v1.2.0",
            sleep=no_sleep,
        )


def test_names_match_the_plan_of_prod_azure(
    project_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the lifecycle calls is what the Azure target declares (a rename there fails here)."""
    from inferstack.components.plan.run import run_plan

    monkeypatch.setenv("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION)
    life = open_stack(STACK, project_root).lifecycle
    assert isinstance(life, AzureLifecycle)
    plan = run_plan(STACK, project_root)
    ml = "azure-native:machinelearningservices"
    (endpoint,) = plan.of_type(f"{ml}:OnlineEndpoint")
    assert endpoint.inputs["endpointName"] == life.names.endpoint
    assert endpoint.inputs["resourceGroupName"] == life.resource_group
    (workspace,) = plan.of_type(f"{ml}:Workspace")
    assert workspace.inputs["workspaceName"].startswith(f"{life.names.workspace_prefix}-")
    (deployment,) = plan.of_type(f"{ml}:OnlineDeployment")
    assert deployment.inputs["deploymentName"] == "blue"
    variables = deployment.inputs["properties"]["environmentVariables"]
    assert variables["INFERSTACK_MODEL_VERSION"] == "1.0.0"
    assert {v.inputs["name"] for v in plan.of_type(f"{ml}:ModelVersion")} == {life.names.model}
    rules = {
        r.inputs["ruleName"]: r.type.rsplit(":", 1)[-1]
        for kind in ("MetricAlert", "ScheduledQueryRule")
        for r in plan.of_type(f"azure-native:monitor:{kind}")
    }
    types = {"MetricAlert": "metricAlerts", "ScheduledQueryRule": "scheduledQueryRules"}
    for name, rule_id in life.rule_ids().items():
        assert name in rules, f"{name} is not an alert rule of the stack"
        assert rule_id.split("/")[-2] == types[rules[name]]
