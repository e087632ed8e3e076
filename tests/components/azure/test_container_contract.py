"""The custom container contract, end to end: a real runtime process on 127.0.0.1 started
with the environment variables the prod-azure deployment sets answers the liveness,
readiness and scoring routes that the environment's inference config declares, with the
Azure ML request body that docs/azure.md shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from inferstack.components.plan.run import run_plan
from inferstack.components.spec.config import find_project_root
from inferstack.runtime.contract import PORT, Env
from tests.runtime.server import RuntimeServer

ML = "azure-native:machinelearningservices"


@pytest.fixture(scope="module")
def contract() -> tuple[dict[str, str], dict[str, dict[str, object]]]:
    plan = run_plan("prod-azure")
    (deployment,) = plan.of_type(f"{ML}:OnlineDeployment")
    (environment,) = plan.of_type(f"{ML}:EnvironmentVersion")
    env = deployment.inputs["properties"]["environmentVariables"]
    return env, environment.inputs["properties"]["inferenceConfig"]


@pytest.fixture(scope="module")
def server(
    contract: tuple[dict[str, str], dict[str, dict[str, object]]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RuntimeServer]:
    env, _ = contract
    # The image's baked bundle is the stack's artifact; the port is the contract's inside
    # the container, a free one here (the test server's), everything else as deployed.
    bundle = find_project_root() / "examples" / "logreg-20f" / "bundle"
    assert env[Env.PORT] == str(PORT)
    settings = {k: v for k, v in env.items() if k != Env.PORT}
    runtime = RuntimeServer(bundle, tmp_path_factory.mktemp("azure-logs"), env=settings)
    runtime.start()
    try:
        yield runtime
    finally:
        runtime.stop()


def test_the_declared_routes_answer(
    server: RuntimeServer, contract: tuple[dict[str, str], dict[str, dict[str, object]]]
) -> None:
    _, config = contract
    for route in ("livenessRoute", "readinessRoute"):
        response = httpx.get(f"{server.url}{config[route]['path']}", timeout=10)
        assert response.status_code == 200, (route, response.text)
    body = {"data": [[0.1 * (i % 10 + 1) for i in range(20)]]}
    response = httpx.post(f"{server.url}{config['scoringRoute']['path']}", json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 1


def test_bad_input_on_the_scoring_route_is_a_clear_4xx(
    server: RuntimeServer, contract: tuple[dict[str, str], dict[str, dict[str, object]]]
) -> None:
    _, config = contract
    response = httpx.post(
        f"{server.url}{config['scoringRoute']['path']}", json={"data": [[1.0, 2.0]]}, timeout=10
    )
    assert 400 <= response.status_code < 500
    assert "20" in response.text or "feature" in response.text.lower()


def test_the_deployment_pins_the_served_version(
    contract: tuple[dict[str, str], dict[str, dict[str, object]]], tmp_path: Path
) -> None:
    """The image and the registered version must agree: the runtime refuses to become
    ready with a bundle of another version than the deployment's INFERSTACK_MODEL_VERSION."""
    env, _ = contract
    bundle = find_project_root() / "examples" / "logreg-20f" / "bundle"
    settings = {k: v for k, v in env.items() if k != Env.PORT}
    settings[Env.MODEL_VERSION] = "9.9.9"
    runtime = RuntimeServer(bundle, tmp_path, env=settings)
    with pytest.raises((RuntimeError, TimeoutError)):
        runtime.start(timeout=60)
    runtime.stop()
    assert "9.9.9" in runtime.logs()
