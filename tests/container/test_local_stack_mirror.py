"""The local stack run for real: `stacks/__main__.py` with the `local` stack's config
under the docker mirror (`inferstack.components.testing.docker`), which builds the
runtime image and creates the network, volume and containers on this engine.

What differs from `make up`, and why: the stack is named `mirror-<random>` (its
containers, network and volume are `inferstack-mirror-<random>-*`, never a real
`local` stack's) and publishes free host ports, not 8080/9090/3000; the image's base
is INFERSTACK_TEST_BASE_IMAGE (no registry here) and it builds on the host network
(the engine has no default bridge). Prometheus and Grafana cannot be pulled here: they
are checked on their declared inputs and their files with promtool and Grafana's
dashboard model. Replacing the model version follows what the local component
declares: the old container is stopped (SIGTERM, 30 s to drain) and removed, then the
new one is created on the same name and port; the test measures the gap.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml

from inferstack.components.local.naming import REPLACE_IN_PLACE
from inferstack.components.plan.run import Plan
from inferstack.components.spec.config import read_stack_config
from inferstack.components.testing.docker import DockerMocks, Engine, run_stack
from inferstack.runtime.auth import hash_key
from tests.container.conftest import ROOT, free_port, unavailable

REQUEST = json.loads((ROOT / "examples" / "logreg-20f" / "request.json").read_text())


@dataclass
class Deployed:
    """The mirrored stack: its mocks, plans, config and where it listens."""

    mocks: DockerMocks
    stack: str
    config: dict[str, Any]
    ports: dict[str, int]
    plans: list[Plan] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['port']}"

    @property
    def key(self) -> str:
        return self.mocks.generated[f"{self.stack}-api-key"]

    def container(self, role: str) -> dict[str, Any]:
        created = self.mocks.live[f"{self.stack}-{role}"]
        return self.mocks.engine.request("GET", f"/containers/{created.id}/json")


def stack_config(stack: str, ports: dict[str, int], **model: str) -> dict[str, Any]:
    config = copy.deepcopy(read_stack_config(ROOT, "local"))
    deployment = config["inferstack:deployment"]
    deployment["targets"] = {"local": ports}
    deployment["model"].update(model)
    return config


@pytest.fixture(scope="module")
def deployed(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv("INFERSTACK_BUILD_DIR", str(tmp_path_factory.mktemp("contexts")))
    stack = f"mirror-{uuid.uuid4().hex[:8]}"
    ports = {"port": free_port(), "prometheus_port": free_port(), "grafana_port": free_port()}
    mocks = DockerMocks(
        Engine(), build_args={"BASE_IMAGE": base_image}, build_network="host", pull_timeout_s=20
    )
    state = Deployed(mocks, stack, stack_config(stack, ports), ports)
    try:
        state.plans.append(run_stack(ROOT, stack, state.config, mocks))
        yield state
    finally:
        mocks.destroy()
        monkeypatch.undo()


def predict(url: str, key: str, timeout: float = 10) -> httpx.Response:
    return httpx.post(
        f"{url}/invocations", json=REQUEST, headers={"X-Api-Key": key}, timeout=timeout
    )


def test_the_runtime_container_runs_as_declared(deployed: Deployed) -> None:
    plan = deployed.plans[0]
    declared = plan.by_name()[f"{deployed.stack}-runtime"].raw_inputs
    info = deployed.container("runtime")
    config, host = info["Config"], info["HostConfig"]
    assert info["Name"] == f"/inferstack-{deployed.stack}-runtime"
    assert info["State"]["Health"]["Status"] == "healthy"
    assert host["PortBindings"] == {
        "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(deployed.ports["port"])}]
    }
    assert host["RestartPolicy"]["Name"] == "unless-stopped"
    assert config["Healthcheck"]["Test"] == declared["healthcheck"]["tests"]
    assert config["Healthcheck"]["Interval"] == 10 * 10**9
    assert config["StopSignal"] == "SIGTERM"
    assert config["StopTimeout"] == 30
    # No user is declared: the image's own non-root user runs the server.
    assert config["User"] == "10001:10001"
    env = dict(e.split("=", 1) for e in config["Env"])
    assert env["INFERSTACK_MODEL_VERSION"] == "1.0.0"
    assert env["INFERSTACK_API_KEY_HASHES"] == hash_key(deployed.key)
    assert deployed.key not in json.dumps(config)
    assert config["Labels"]["dev.inferstack.endpoint"] == deployed.stack
    network = f"inferstack-{deployed.stack}"
    assert set(info["NetworkSettings"]["Networks"]) == {network}
    assert (
        f"inferstack-{deployed.stack}-runtime"
        in (info["NetworkSettings"]["Networks"][network]["Aliases"])
    )
    mounts = {m["Name"]: m["Destination"] for m in info["Mounts"] if m["Type"] == "volume"}
    assert mounts == {f"inferstack-{deployed.stack}-capture": "/var/lib/inferstack/capture"}


def test_the_endpoint_answers_with_the_key_the_stack_generated(deployed: Deployed) -> None:
    answer = predict(deployed.url, deployed.key)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert len(predictions) == len(REQUEST["instances"])
    assert httpx.post(f"{deployed.url}/invocations", json=REQUEST).status_code == 401
    assert predict(deployed.url, "not-the-key").status_code == 401
    # The stack's url output is where the container answers.
    outputs = deployed.plans[0].outputs
    assert outputs["endpoint_url"] == deployed.url
    assert outputs["api_key"] == "[secret]"


def test_monitoring_is_checked_on_its_declared_inputs(deployed: Deployed) -> None:
    """The images cannot be pulled here; what the containers would run with is checked."""
    not_run = deployed.mocks.not_run
    network = f"inferstack-{deployed.stack}"
    for role, port, internal in (
        ("prometheus", deployed.ports["prometheus_port"], 9090),
        ("grafana", deployed.ports["grafana_port"], 3000),
    ):
        entry = not_run[f"{deployed.stack}-monitoring-{role}"]
        assert "cannot pull" in entry.reason
        inputs = entry.inputs
        assert inputs["ports"] == [{"internal": internal, "external": port, "ip": "127.0.0.1"}]
        assert inputs["restart"] == "unless-stopped"
        assert [n["name"] for n in inputs["networksAdvanced"]] == [network]
        assert inputs["labels"] == [{"label": "dev.inferstack.endpoint", "value": deployed.stack}]
    prometheus = not_run[f"{deployed.stack}-monitoring-prometheus"].inputs
    assert prometheus["healthcheck"]["tests"][-1].endswith("/-/ready")


def uploads(deployed: Deployed, role: str) -> dict[str, str]:
    inputs = deployed.mocks.not_run[f"{deployed.stack}-monitoring-{role}"].inputs
    return {u["file"]: u["content"] for u in inputs["uploads"]}


def test_prometheus_config_and_rules_pass_promtool(deployed: Deployed, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        unavailable("promtool is not installed (apt-get install prometheus)")
    files = uploads(deployed, "prometheus")
    config = yaml.safe_load(files["/etc/prometheus/prometheus.yml"])
    # The rule file path is the one inside the container: point it at a local copy.
    (rules_file,) = config["rule_files"]
    (tmp_path / "rules.yml").write_text(files[rules_file])
    config["rule_files"] = [str(tmp_path / "rules.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "rules.yml"]):
        result = subprocess.run(
            [promtool, *args], capture_output=True, text=True, check=False, cwd=tmp_path
        )
        assert result.returncode == 0, result.stdout + result.stderr
    (job,) = config["scrape_configs"]
    assert job["static_configs"] == [{"targets": [f"inferstack-{deployed.stack}-runtime:8080"]}]


def test_grafana_files_match_each_other(deployed: Deployed) -> None:
    files = uploads(deployed, "grafana")
    datasource = yaml.safe_load(files["/etc/grafana/provisioning/datasources/inferstack.yaml"])
    (source,) = datasource["datasources"]
    assert source["url"] == f"http://inferstack-{deployed.stack}-prometheus:9090"
    provider = yaml.safe_load(files["/etc/grafana/provisioning/dashboards/inferstack.yaml"])
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    dashboard = json.loads(files["/etc/grafana/dashboards/inferstack.json"])
    uids = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}
    assert deployed.plans[0].outputs["dashboard_url"].endswith(f"/d/{dashboard['uid']}")


@dataclass
class Traffic:
    """A client sending predictions one after another until told to stop.

    A connection refused, or closed by Docker's port proxy before any answer, means no
    server took the request: it is retried, and when it happened is kept. Anything
    else that is not a 200 is a lost request.
    """

    url: str
    key: str
    answered: int = 0
    not_taken: list[float] = field(default_factory=list)
    """When a connection was refused or dropped before an answer (then retried)."""
    lost: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            deadline = time.monotonic() + 120
            while True:
                try:
                    answer = predict(self.url, self.key, timeout=30)
                except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError):
                    self.not_taken.append(time.monotonic())
                    if time.monotonic() > deadline:
                        self.lost.append("no answer within 120 s")
                        break
                    time.sleep(0.05)
                    continue
                except httpx.HTTPError as err:
                    self.lost.append(repr(err))
                    break
                if answer.status_code == 200:
                    self.answered += 1
                else:
                    self.lost.append(f"{answer.status_code} {answer.text[:200]}")
                break


def retrained_bundle(out: Path) -> Path:
    """A new version of the quickstart model, trained here."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    from inferstack.runtime import bundle

    x, y = make_classification(n_samples=800, n_features=20, n_informative=8, random_state=1)
    model = LogisticRegression(max_iter=500, C=0.5).fit(x, y)
    return bundle(
        model,
        framework="sklearn",
        name="logreg-20f",
        version="1.0.1",
        out=out,
        reference_data=x.astype(np.float64),
        overwrite=True,
    )


def test_a_new_model_version_replaces_the_container_losing_no_request(
    deployed: Deployed, tmp_path: Path
) -> None:
    assert REPLACE_IN_PLACE["delete_before_replace"] is True  # what the component declares
    old = deployed.mocks.live[f"{deployed.stack}-runtime"].id
    new_bundle = retrained_bundle(tmp_path / "bundle-1.0.1")
    config = stack_config(deployed.stack, deployed.ports, version="1.0.1", artifact=str(new_bundle))
    traffic = Traffic(deployed.url, deployed.key)
    client = threading.Thread(target=traffic.run)
    client.start()
    try:
        time.sleep(1)
        deployed.plans.append(run_stack(ROOT, deployed.stack, config, deployed.mocks))
        time.sleep(1)
    finally:
        traffic.stop.set()
        client.join(timeout=180)
    new = deployed.mocks.live[f"{deployed.stack}-runtime"].id
    (replacement,) = deployed.mocks.replaced
    assert (replacement.old, replacement.new) == (old, new)
    assert traffic.lost == []
    assert traffic.answered > 10
    # Refused or dropped connections only while no container listened: from the old
    # one's SIGTERM (it stops accepting, drains, exits) until the new one was ready.
    outside = [
        t for t in traffic.not_taken if not replacement.stopping <= t <= replacement.ready + 0.5
    ]
    assert outside == []
    info = deployed.container("runtime")
    env = dict(e.split("=", 1) for e in info["Config"]["Env"])
    assert env["INFERSTACK_MODEL_VERSION"] == "1.0.1"
    # The same generated key still opens the new container.
    assert env["INFERSTACK_API_KEY_HASHES"] == hash_key(deployed.key)
    metadata = httpx.get(
        f"{deployed.url}/v2/models/churn-logreg", headers={"X-Api-Key": deployed.key}
    )
    assert metadata.status_code == 200, metadata.text
    assert "1.0.1" in json.dumps(metadata.json())
    # The old container is gone, the network and volume were kept (unchanged inputs).
    assert deployed.mocks.engine.request("GET", f"/containers/{old}/json", ok_missing=True) is None
    kinds = [c.kind for c in deployed.mocks.created]
    assert kinds.count("network") == 1
    assert kinds.count("volume") == 1
    print(
        f"\nreplacement: {traffic.answered} answered, {len(traffic.not_taken)} connections "
        f"not taken (retried); old container stopped in "
        f"{replacement.removed - replacement.stopping:.1f} s, new one ready "
        f"{replacement.ready - replacement.removed:.1f} s later"
    )


def test_destroy_removes_everything_it_created(deployed: Deployed) -> None:
    created = list(deployed.mocks.created)
    assert {c.kind for c in created} == {"container", "network", "volume"}
    assert deployed.mocks.destroy() == []
    engine = deployed.mocks.engine
    for item in created:
        path = {"container": "containers", "network": "networks", "volume": "volumes"}[item.kind]
        suffix = "/json" if item.kind == "container" else ""
        assert engine.request("GET", f"/{path}/{item.id}{suffix}", ok_missing=True) is None, item
