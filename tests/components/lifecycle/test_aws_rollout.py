"""versions, promote and rollback of a SageMaker endpoint in moto, and the stack config
they leave behind."""

from __future__ import annotations

from collections.abc import Callable

import boto3
import pytest

from inferstack.components.lifecycle.rollout import Event, promote, rollback
from inferstack.components.lifecycle.schema import SchemaMismatchError
from inferstack.components.lifecycle.seam import LifecycleError
from inferstack.components.lifecycle.stacks import Stack, open_stack
from tests.components.lifecycle.conftest import REGION, STACK, Endpoint, Project, write_bundle


def _stack(project: Project) -> Stack:
    return open_stack(STACK, project.root, sleep=lambda _s: None)


def _sleeper(on_call: dict[int, Callable[[], None]]) -> tuple[Callable[[float], None], list[float]]:
    """A sleep hook that records its pauses and runs `on_call[n]` at the n-th call."""
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        action = on_call.get(len(slept))
        if action:
            action()

    return sleep, slept


def test_versions_lists_variants_with_shares_and_registered_packages(
    project: Project, endpoint: Endpoint
) -> None:
    sagemaker = boto3.client("sagemaker", region_name=REGION)
    sagemaker.create_model_package_group(ModelPackageGroupName="churn-logreg")
    for version in ("1.0.0", "1.2.0"):
        sagemaker.create_model_package(
            ModelPackageGroupName="churn-logreg",
            ModelApprovalStatus="PendingManualApproval",
            CustomerMetadataProperties={"inferstack:version": version},
            InferenceSpecification={
                "Containers": [{"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/c:1"}],
                "SupportedContentTypes": ["application/json"],
                "SupportedResponseMIMETypes": ["application/json"],
            },
        )
    versions = _stack(project).lifecycle.versions()
    rows = [(v.version, v.state, v.share, v.variant) for v in versions]
    assert rows == [
        ("1.0.0", "serving", 1.0, "primary"),
        ("1.1.0", "standby", 0.0, "candidate"),
        ("1.2.0", "registered", 0.0, None),
    ]
    assert versions[2].source == "model package group churn-logreg"
    assert "PendingManualApproval" in versions[2].detail


def test_promote_shifts_step_by_step_and_rewrites_the_config(
    project: Project, endpoint: Endpoint
) -> None:
    seen: list[dict[str, float]] = []
    events: list[Event] = []

    def report(event: Event) -> None:
        events.append(event)
        if event.kind == "step":
            seen.append(endpoint.weights())

    sleep, slept = _sleeper({})
    result = promote(
        _stack(project), "1.1.0", steps=[10, 50], sleep=sleep, poll_s=60, report=report
    )
    assert result.outcome == "promoted"
    assert result.steps_done == [10, 50, 100]
    assert seen == [
        {"primary": 0.9, "candidate": 0.1},
        {"primary": 0.5, "candidate": 0.5},
        {"primary": 0.0, "candidate": 1.0},
    ]
    # 600 s of bake per step, watched every 60 s
    assert sum(slept) == 3 * 600
    assert [e.baked_s for e in events if e.kind == "bake"][:2] == [60, 120]
    deployment = project.deployment()
    assert deployment["rollout"]["primary_weight"] == 0.0
    assert deployment["rollout"]["variants"][0]["weight"] == 1.0
    text = project.config.read_text()
    assert "# the new model, deployed beside the old one" in text
    assert "artifact: bundles/v1.1.0  # built by train.py" in text
    assert text.index("primary_weight") > text.index("auto_rollback")


def test_promote_stops_and_rolls_back_when_an_alarm_fires(
    project: Project, endpoint: Endpoint
) -> None:
    fired = endpoint.alarms[0]
    before = project.config.read_text()
    sleep, _ = _sleeper({12: lambda: endpoint.alarm(fired)})  # in the second step's bake
    result = promote(_stack(project), "1.1.0", steps=[10, 50], sleep=sleep, poll_s=60)
    assert result.outcome == "rolled_back"
    assert result.alarms == [fired]
    assert result.steps_done == [10, 50]
    assert endpoint.weights() == {"primary": 1.0, "candidate": 0.0}
    assert "traffic is back on 1.0.0" in result.message
    deployment = project.deployment()
    assert deployment["rollout"]["primary_weight"] == 1.0
    assert deployment["rollout"]["variants"][0]["weight"] == 0.0
    # only the weights changed: every other line is as the user wrote it
    changed = set(project.config.read_text().splitlines()) ^ set(before.splitlines())
    assert all("weight" in line for line in changed), changed


def test_ctrl_c_during_a_bake_restores_the_weights_and_says_so(
    project: Project, endpoint: Endpoint
) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    sleep, _ = _sleeper({3: interrupt})
    result = promote(_stack(project), "1.1.0", steps=[25], sleep=sleep, poll_s=60)
    assert result.outcome == "interrupted"
    assert result.steps_done == [25]
    assert endpoint.weights() == {"primary": 1.0, "candidate": 0.0}
    assert "traffic is back as it was" in result.message
    assert "primary (1.0.0) 100%" in result.message
    assert project.deployment()["rollout"]["primary_weight"] == 1.0


def test_promote_refuses_an_incompatible_schema_unless_forced(
    project: Project, endpoint: Endpoint
) -> None:
    features = [f"f{i}" for i in range(19)] + ["tenure"]
    write_bundle(project.root / "bundles" / "v1.1.0", "1.1.0", features)
    with pytest.raises(SchemaMismatchError) as caught:
        promote(_stack(project), "1.1.0", sleep=lambda _s: None)
    message = str(caught.value)
    assert "features removed: f19" in message
    assert "features added: tenure" in message
    assert "--force" in message
    assert endpoint.weights() == {"primary": 1.0, "candidate": 0.0}
    result = promote(_stack(project), "1.1.0", force=True, sleep=lambda _s: None)
    assert result.outcome == "promoted"


def test_promote_of_a_version_not_on_the_endpoint_says_how_to_deploy_it(
    project: Project, endpoint: Endpoint
) -> None:
    with pytest.raises(LifecycleError, match=r"version 2\.0\.0 is not deployed.*weight 0"):
        promote(_stack(project), "2.0.0", sleep=lambda _s: None)


def test_rollback_fast_path_after_a_promote(project: Project, endpoint: Endpoint) -> None:
    promote(_stack(project), "1.1.0", sleep=lambda _s: None)
    assert endpoint.weights() == {"primary": 0.0, "candidate": 1.0}
    result = rollback(_stack(project))
    assert result.outcome == "rolled_back"
    assert result.version == "1.0.0"
    assert endpoint.weights() == {"primary": 1.0, "candidate": 0.0}
    deployment = project.deployment()
    assert deployment["rollout"]["primary_weight"] == 1.0
    assert deployment["rollout"]["variants"][0]["weight"] == 0.0
    with pytest.raises(LifecycleError, match=r"no version older than the serving 1\.0\.0"):
        rollback(_stack(project))


def test_a_missing_endpoint_is_named(project: Project, aws_env: None) -> None:
    with pytest.raises(LifecycleError, match="endpoint 'churn-logreg-prod-aws' does not exist"):
        _stack(project).lifecycle.versions()


def test_an_api_error_mid_promote_restores_and_reports_the_state(
    project: Project, endpoint: Endpoint
) -> None:
    stack = _stack(project)
    life = stack.lifecycle
    real = life.set_weights
    calls: list[dict[str, float]] = []

    def flaky(weights: dict[str, float]) -> None:
        calls.append(weights)
        if len(calls) == 2:
            raise LifecycleError("UpdateEndpointWeightsAndCapacities (us-east-1): Throttling")
        real(weights)

    life.set_weights = flaky  # type: ignore[method-assign]
    with pytest.raises(LifecycleError) as caught:
        promote(stack, "1.1.0", steps=[10, 50], sleep=lambda _s: None)
    message = str(caught.value)
    assert "Throttling; promote stopped after 1 step(s): traffic is back as it was" in message
    assert "primary (1.0.0) 100%" in message
    assert endpoint.weights() == {"primary": 1.0, "candidate": 0.0}
    assert project.deployment()["rollout"]["primary_weight"] == 1.0


def test_stage_adds_a_weight_0_variant_for_pulumi_up(project: Project, endpoint: Endpoint) -> None:
    before = project.config.read_text()
    write_bundle(project.root / "bundles" / "v1.2.0", "1.2.0")
    result = promote(
        _stack(project), "1.2.0", stage=True, bundle=project.root / "bundles" / "v1.2.0"
    )
    assert result.outcome == "staged"
    assert result.needs_pulumi_up
    assert "variant candidate-2 serves 1.2.0 with weight 0 once `pulumi up -s prod-aws`" in (
        result.message
    )
    variants = project.deployment()["rollout"]["variants"]
    assert variants[-1] == {
        "name": "candidate-2",
        "model_version": "1.2.0",
        "artifact": "bundles/v1.2.0",
        "weight": 0,
    }
    text = project.config.read_text()
    assert text.startswith(before[: before.index("    tags:")])  # all above is unchanged
    assert endpoint.weights() == {"primary": 1.0, "candidate": 0.0}  # nothing deployed


def test_stage_turns_canary_into_blue_green_and_says_so(
    project: Project, endpoint: Endpoint
) -> None:
    from tests.components.lifecycle.conftest import CANDIDATE

    text = project.config.read_text().replace(CANDIDATE, "")
    project.config.write_text(text.replace("strategy: blue_green", "strategy: canary"))
    write_bundle(project.root / "bundles" / "v1.2.0", "1.2.0")
    stack = _stack(project)
    result = promote(stack, "1.2.0", stage=True, bundle=project.root / "bundles" / "v1.2.0")
    assert "rollout.strategy canary -> blue_green" in result.message
    deployment = project.deployment()
    assert deployment["rollout"]["strategy"] == "blue_green"
    assert deployment["rollout"]["variants"][0]["name"] == "candidate"
