"""versions, promote and rollback of a GKE stack: the official kubernetes client against a
Kubernetes API server on 127.0.0.1 that holds the objects the GKE target renders, managed
Prometheus's query route beside it, and the stack config left behind."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from inferstack.components.gcp.rules import region_of
from inferstack.components.gcp.serving import EdgeNames, serving_objects, tracks
from inferstack.components.lifecycle.gcp import GkeLifecycle, GkeStackFile, context_of
from inferstack.components.lifecycle.rollout import Event, promote, rollback
from inferstack.components.lifecycle.schema import SchemaMismatchError
from inferstack.components.lifecycle.seam import LifecycleError, TargetLifecycle
from inferstack.components.lifecycle.stackfile import StackFileError
from inferstack.components.lifecycle.stacks import Stack, open_stack
from inferstack.components.spec.config import load_spec
from inferstack.components.spec.models import DeploymentSpec
from tests.components.lifecycle.conftest import write_bundle
from tests.components.lifecycle.gcp_kube_server import TOKEN, ClusterState, kube_server

STACK = "prod-gke"
PROJECT = "inferstack-prod"
STABLE = "churn-logreg-stable"
CANDIDATE = "churn-logreg-candidate"
CANARY = "churn-logreg-canary"
AB_ROLLOUT = """\
    rollout:
      # the new model runs beside the old one; the route gives it no traffic yet
      strategy: all_at_once
      auto_rollback: false
      variants:
        - name: candidate
          model_version: 1.1.0
          artifact: bundles/v1.1.0
          weight: 0
"""


def no_sleep(_seconds: float) -> None:
    """A sleep that returns at once."""


@dataclass
class GkeProject:
    """A project folder with the prod-gke stack, and its fake cluster."""

    root: Path
    config: Path
    state: ClusterState
    url: str

    def deployment(self) -> dict[str, Any]:
        """The stack config's deployment mapping as it is on disk now."""
        return yaml.safe_load(self.config.read_text())["config"]["inferstack:deployment"]

    def stack(self, sleep: Callable[[float], None] = no_sleep) -> Stack:
        """The stack opened as the CLI does, its clients pointed at the fake cluster."""

        def factory(
            spec: DeploymentSpec,
            stack: str,
            _config: dict[str, object],
            _root: Path,
            sleep: Callable[[float], None],
        ) -> TargetLifecycle:
            configuration = client.Configuration()
            configuration.host = self.url
            return GkeLifecycle(
                spec,
                stack,
                PROJECT,
                api_client=client.ApiClient(configuration),
                prometheus=self.url,
                registry=self.url,
                token=lambda: TOKEN,
                sleep=sleep,
                poll_s=2,
            )

        return open_stack(STACK, self.root, sleep=sleep, factory=factory)


def _project(tmp_path: Path, project_root: Path, ab: bool) -> tuple[Path, ClusterState]:
    tmp_path.mkdir()
    shutil.copy(project_root / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    (tmp_path / "stacks").mkdir()
    text = (project_root / "stacks" / f"Pulumi.{STACK}.yaml").read_text()
    text = text.replace("artifact: examples/logreg-20f/bundle", "artifact: bundles/v1.0.0")
    if ab:
        start, end = text.index("    rollout:\n"), text.index("    targets:\n")
        text = text[:start] + AB_ROLLOUT + text[end:]
        text = "".join(line for line in text.splitlines(True) if "stable_" not in line)
    assert ("name: candidate" in text) == ab, "prod-gke's config changed: update this fixture"
    config = tmp_path / "stacks" / f"Pulumi.{STACK}.yaml"
    config.write_text(text)
    write_bundle(tmp_path / "bundles" / "v1.0.0", "1.0.0")
    write_bundle(tmp_path / "bundles" / "v1.1.0", "1.1.0")
    spec = load_spec(yaml.safe_load(text)["config"]["inferstack:deployment"])
    ctx = context_of(spec, STACK, PROJECT, region_of(spec))
    edge = EdgeNames("churn-address", "churn-armor", "churn-certs")
    objects = serving_objects(ctx, "us-docker.pkg.dev/p/r/churn:1", "gsa@p", "hash", edge)
    repository = f"projects/{PROJECT}/locations/us-central1/repositories/{ctx.repository_id()}"
    tags = [f"{v}-{h * 12}" for v, h in (("1.0.0", "a"), ("1.1.0", "b"), ("1.2.0", "c"))]
    return config, ClusterState(
        ctx.namespace, objects, repository, "churn-logreg", [*tags, "1.2.0-" + "d" * 12]
    )


@pytest.fixture
def ab(tmp_path: Path, project_root: Path) -> Iterator[GkeProject]:
    """prod-gke with an A/B variant: stable 1.0.0 takes all traffic, candidate 1.1.0 none."""
    config, state = _project(tmp_path / "ab", project_root, ab=True)
    with kube_server(state) as url:
        yield GkeProject(tmp_path / "ab", config, state, url)


@pytest.fixture
def canary(tmp_path: Path, project_root: Path) -> Iterator[GkeProject]:
    """prod-gke as shipped: a canary of 1.0.0 takes 5% beside stable 0.9.0."""
    config, state = _project(tmp_path / "canary", project_root, ab=False)
    with kube_server(state) as url:
        yield GkeProject(tmp_path / "canary", config, state, url)


def test_versions_list_tracks_with_route_shares(ab: GkeProject, canary: GkeProject) -> None:
    versions = ab.stack().lifecycle.versions()
    rows = [(v.version, v.state, v.share, v.variant) for v in versions]
    assert rows == [
        ("1.0.0", "serving", 1.0, "stable"),
        ("1.1.0", "standby", 0.0, "candidate"),
        ("1.2.0", "image", 0.0, None),  # pushed, not deployed (tags read page by page)
    ]
    assert versions[2].source == f"Artifact Registry {ab.state.repository}"
    assert versions[2].detail == "1.2.0-cccccccccccc"
    versions = canary.stack().lifecycle.versions()
    rows = [(v.version, v.state, round(v.share, 2), v.variant) for v in versions]
    assert rows[:2] == [("0.9.0", "serving", 0.95, "stable"), ("1.0.0", "serving", 0.05, "canary")]
    assert [v.version for v in versions[2:]] == ["1.1.0", "1.2.0"]
    assert versions[0].source == "HTTPRoute churn-logreg-prod-gke/churn-logreg"


def test_promote_in_steps_patches_the_route_and_writes_the_weights(ab: GkeProject) -> None:
    seen: list[dict[str, int]] = []
    before = ab.config.read_text()

    def report(event: Event) -> None:
        if event.kind == "step":
            seen.append(ab.state.weights())

    result = promote(ab.stack(), "1.1.0", steps=[10, 50], sleep=no_sleep, report=report)
    assert result.outcome == "promoted"
    assert seen == [
        {STABLE: 90, CANDIDATE: 10},
        {STABLE: 50, CANDIDATE: 50},
        {STABLE: 0, CANDIDATE: 100},
    ]
    assert ab.state.puts() == 3
    assert ab.state.route["metadata"]["generation"] == 4
    deployment = ab.deployment()
    assert deployment["rollout"]["primary_weight"] == 0.0
    assert deployment["rollout"]["variants"][0]["weight"] == 1.0
    assert "# the new model runs beside the old one" in ab.config.read_text()
    changed = set(ab.config.read_text().splitlines()) ^ set(before.splitlines())
    assert all("weight" in line for line in changed), changed
    # the next `pulumi up` renders the same route weights
    spec = load_spec(deployment)
    weights = {t.service: t.weight for t in tracks(context_of(spec, STACK, PROJECT), "img")}
    assert weights == ab.state.weights()


def test_promote_stops_and_rolls_back_when_a_condition_fires(ab: GkeProject) -> None:
    def report(event: Event) -> None:
        if event.kind == "step" and event.step == 2:
            ab.state.firing.add("5xx rate")

    result = promote(ab.stack(), "1.1.0", steps=[10, 50], sleep=no_sleep, report=report)
    assert result.outcome == "rolled_back"
    assert result.alarms == ["inferstack churn-logreg-prod-gke: 5xx rate"]
    assert ab.state.weights() == {STABLE: 100, CANDIDATE: 0}
    assert ab.deployment()["rollout"]["primary_weight"] == 1.0
    assert ab.deployment()["rollout"]["variants"][0]["weight"] == 0.0
    # the queries are the alert policies' own, scoped to the stack's namespace
    assert any('namespace="churn-logreg-prod-gke"' in q for q in ab.state.queries)


def test_ctrl_c_in_a_bake_restores_the_route(ab: GkeProject) -> None:
    armed = []

    def report(event: Event) -> None:
        if event.kind == "step":
            armed.append(True)

    def sleep(_seconds: float) -> None:
        if armed:
            armed.clear()
            raise KeyboardInterrupt

    result = promote(ab.stack(sleep), "1.1.0", steps=[25], sleep=sleep, report=report)
    assert result.outcome == "interrupted"
    assert ab.state.weights() == {STABLE: 100, CANDIDATE: 0}
    assert "traffic is back as it was" in result.message
    assert ab.deployment()["rollout"]["primary_weight"] == 1.0


def test_rollback_fast_path_patches_the_route_once(ab: GkeProject) -> None:
    promote(ab.stack(), "1.1.0", sleep=no_sleep)
    puts = ab.state.puts()
    result = rollback(ab.stack())
    assert (result.outcome, result.version) == ("rolled_back", "1.0.0")
    assert ab.state.weights() == {STABLE: 100, CANDIDATE: 0}
    assert ab.state.puts() == puts + 1
    assert ab.deployment()["rollout"]["primary_weight"] == 1.0


def test_an_incompatible_schema_is_refused_naming_the_fields(ab: GkeProject) -> None:
    write_bundle(ab.root / "bundles" / "v1.1.0", "1.1.0", [f"f{i}" for i in range(21)])
    with pytest.raises(SchemaMismatchError, match="features added: f20"):
        promote(ab.stack(), "1.1.0", sleep=no_sleep)
    assert ab.state.puts() == 0


def test_a_split_the_gateway_would_refuse_is_refused_before_any_call(ab: GkeProject) -> None:
    life = ab.stack().lifecycle
    with pytest.raises(LifecycleError, match="send traffic nowhere"):
        life.set_weights({"stable": 0, "candidate": 0})
    with pytest.raises(LifecycleError, match="must be finite and >= 0"):
        life.set_weights({"stable": float("nan"), "candidate": 1})
    assert ab.state.calls == []
    with pytest.raises(LifecycleError, match="no backend for shadow"):
        life.set_weights({"stable": 50, "candidate": 25, "shadow": 25})
    assert ab.state.puts() == 0


def test_a_conflicting_route_update_is_not_overwritten(ab: GkeProject) -> None:
    life = ab.stack().lifecycle
    assert isinstance(life, GkeLifecycle)
    real = life._get_route

    def stale() -> dict[str, Any]:
        route = real()
        route["metadata"]["resourceVersion"] = "0"  # someone changed it since
        return route

    life._get_route = stale  # type: ignore[method-assign]
    with pytest.raises(LifecycleError, match="HTTP 409"):
        life.set_weights({"stable": 50, "candidate": 50})
    assert ab.state.weights() == {STABLE: 100, CANDIDATE: 0}


def test_a_canary_promote_ends_with_the_canary_alone_in_the_config(canary: GkeProject) -> None:
    result = promote(canary.stack(), "1.0.0", force=True, sleep=no_sleep)
    assert result.outcome == "promoted"
    assert canary.state.weights() == {STABLE: 0, CANARY: 100}
    options = canary.deployment()["targets"]["gcp"]
    assert options["stable_version"] is None
    assert options["stable_image"] is None
    spec = load_spec(canary.deployment())
    (track,) = tracks(context_of(spec, STACK, PROJECT), "img")
    assert (track.name, track.weight, track.workloads[0].version) == ("stable", 100, "1.0.0")


def test_a_canary_rollback_moves_traffic_and_says_what_the_config_needs(
    canary: GkeProject,
) -> None:
    before = canary.config.read_text()
    with pytest.raises(StackFileError, match=r"set model\.version to 0\.9\.0"):
        rollback(canary.stack(), to="0.9.0")
    assert canary.state.weights() == {STABLE: 100, CANARY: 0}
    assert canary.config.read_text() == before
    # a step within (0, 100) is canary_percent
    file = GkeStackFile(canary.config)
    file.set_weights({"stable": 80, "canary": 20})
    file.save()
    assert canary.deployment()["rollout"]["canary_percent"] == 20


def test_open_stack_dispatches_to_gke(ab: GkeProject) -> None:
    stack = open_stack(STACK, ab.root)
    assert isinstance(stack.lifecycle, GkeLifecycle)
    assert stack.lifecycle.namespace == ab.state.namespace
    assert stack.lifecycle.prometheus.endswith(f"/projects/{PROJECT}/location/global/prometheus")
    assert isinstance(stack.file, GkeStackFile)
    assert stack.artifact_of("candidate") == ab.root / "bundles" / "v1.1.0"
    assert stack.artifact_of("stable") == ab.root / "bundles" / "v1.0.0"


def test_names_match_the_plan_of_prod_gke(project_root: Path) -> None:
    """What the lifecycle calls is what the GKE target declares (a rename there fails here)."""
    from inferstack.components.plan.run import run_plan

    life = open_stack(STACK, project_root).lifecycle
    assert isinstance(life, GkeLifecycle)
    plan = run_plan(STACK, project_root)
    (route,) = plan.of_type("kubernetes:gateway.networking.k8s.io/v1:HTTPRoute")
    assert route.inputs["metadata"]["name"] == life.route
    assert route.inputs["metadata"]["namespace"] == life.namespace
    backends = {ref["name"] for ref in route.inputs["spec"]["rules"][0]["backendRefs"]}
    assert backends == {life.ctx.service_name(t) for t in ("stable", "canary")}
    deployments = plan.of_type("kubernetes:apps/v1:Deployment")
    labels = {d.inputs["metadata"]["labels"]["inferstack.dev/track"] for d in deployments}
    assert labels == {"stable", "canary"}
    policies = {
        p.inputs["displayName"] for p in plan.of_type("gcp:monitoring/alertPolicy:AlertPolicy")
    }
    assert set(life.conditions()) <= policies
    # the kubeconfig hint names the stack's cluster
    (cluster,) = plan.of_type("gcp:container/cluster:Cluster")
    assert cluster.inputs["name"] == life.ctx.cluster_name
    assert cluster.inputs["location"] == life.ctx.cluster_location
    (repository,) = plan.of_type("gcp:artifactregistry/repository:Repository")
    assert repository.inputs["repositoryId"] == life.ctx.repository_id()
    assert repository.inputs["location"] == life.ctx.region


def test_the_cli_reads_the_cluster_through_the_users_kubeconfig(
    ab: GkeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`inferstack versions` and `rollback` as a user runs them: the kubeconfig's current
    context (as `gcloud container clusters get-credentials` writes it) names the cluster."""
    from typer.testing import CliRunner

    from inferstack.components.cli.app import app

    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "gke", "cluster": {"server": ab.url}}],
        "users": [{"name": "me", "user": {"token": "kube-token"}}],
        "contexts": [{"name": "gke", "context": {"cluster": "gke", "user": "me"}}],
        "current-context": "gke",
    }
    (tmp_path / "kubeconfig").write_text(yaml.safe_dump(kubeconfig))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "kubeconfig"))
    # No Google credentials (a missing file fails at once, with no metadata-server probe):
    # versions then lists no Artifact Registry tags, and says nothing is wrong.
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "absent.json"))
    args = ["versions", STACK, "--json", "--project", str(ab.root)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = [(v["version"], v["state"], v["variant"]) for v in json.loads(result.stdout)]
    assert rows == [("1.0.0", "serving", "stable"), ("1.1.0", "standby", "candidate")]
    ab.state.route["spec"]["rules"][0]["backendRefs"][0]["weight"] = 0  # 1.1.0 took over
    ab.state.route["spec"]["rules"][0]["backendRefs"][1]["weight"] = 100
    result = CliRunner().invoke(app, ["rollback", STACK, "--json", "--project", str(ab.root)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["version"] == "1.0.0"
    assert ab.state.weights() == {STABLE: 100, CANDIDATE: 0}
    assert ab.deployment()["rollout"]["primary_weight"] == 1.0
