"""What a real engine would do with the local stack on the second `pulumi up`: a
renamed model, a changed health check, another checkout, `make down`."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.components.image.component import RuntimeImage, RuntimeImageArgs
from inferstack.components.local.naming import go_duration
from inferstack.components.plan.run import Plan, run_plan, run_under_mocks
from tests.components.local.conftest import BUNDLE, ROOT

CONTAINER = "docker:index/container:Container"
DOCKER_NAMED = (CONTAINER, "docker:index/network:Network", "docker:index/volume:Volume")
_CONTENT_HASH = re.compile(r"-[0-9a-f]{12}$")


def plan_local(tmp_path: Path, model_name: str) -> Plan:
    """The real stack program, for the `local` stack with the model renamed."""
    root = tmp_path / model_name
    (root / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.local.yaml").read_text())
    model = document["config"]["inferstack:deployment"]["model"]
    model["name"] = model_name
    model["artifact"] = str(BUNDLE)
    (root / "stacks" / "Pulumi.local.yaml").write_text(yaml.safe_dump(document))
    return run_plan("local", root, ROOT / "stacks" / "__main__.py")


def identities(plan: Plan) -> dict[str, Any]:
    """URN of every resource (the image's content hash aside) and every Docker name."""
    return {
        _CONTENT_HASH.sub("-<hash>", r.urn): (r.inputs["name"] if r.type in DOCKER_NAMED else None)
        for r in plan.resources
    }


def test_renaming_the_model_keeps_every_resource_and_docker_name(tmp_path: Path) -> None:
    """A new model name must update the containers, not create a second set beside the
    first (whose host ports are still bound)."""
    before = identities(plan_local(tmp_path, "churn-logreg"))
    after = identities(plan_local(tmp_path, "fraud-xgb"))
    assert after == before
    assert "inferstack-local-runtime" in before.values()


def test_stacks_made_before_keep_their_resources(tmp_path: Path, registrations: dict) -> None:
    """Earlier versions named the component and its children after the model: every
    resource aliases that name, so an upgrade updates instead of duplicating."""
    plan = plan_local(tmp_path, "churn-logreg")
    for resource in plan.resources:
        if resource.type == "docker:index/image:Image":
            continue  # named by the content hash: a new image is a new resource anyway
        aliases = [a.spec.name for a in registrations[resource.name].aliases]
        assert aliases == ["churn-logreg" + resource.name.removeprefix("local")], resource.name


def test_fixed_name_containers_are_replaced_old_first(registrations: dict) -> None:
    plan = run_plan("local")
    containers = plan.of_type(CONTAINER)
    assert len(containers) == 3
    for container in containers:
        request = registrations[container.name]
        assert request.deleteBeforeReplace, container.name
        assert list(request.replaceOnChanges) == ["healthcheck"], container.name


@pytest.mark.parametrize(
    ("seconds", "go"),
    [(0, "0s"), (3, "3s"), (10, "10s"), (60, "1m0s"), (90, "1m30s"), (3600, "1h0m0s")],
)
def test_go_duration_matches_go(seconds: int, go: str) -> None:
    assert go_duration(seconds) == go


def _seconds(text: str) -> int:
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    assert text, "an empty duration"
    assert match, f"not a duration: {text!r}"
    hours, minutes, secs = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + secs


def test_health_checks_are_written_as_the_provider_reads_them_back() -> None:
    """The provider reads durations back with Go's Duration.String(): `60s` comes back
    as `1m0s`, a diff on every `pulumi up`."""
    checked = []
    for container in run_plan("local").of_type(CONTAINER):
        check = container.inputs.get("healthcheck")
        if check is None:  # Grafana: none, and the image has none to read back
            continue
        for field in ("interval", "timeout", "startPeriod"):
            assert check[field] == go_duration(_seconds(check[field])), (container.name, field)
        checked.append(container.name)
    assert sorted(checked) == ["local-monitoring-prometheus", "local-runtime"]


def test_the_container_gets_the_api_keys_hash_not_the_key(registrations: dict) -> None:
    plan = run_plan("local")
    runtime = next(r for r in plan.resources if r.name == "local-runtime")
    envs = dict(e.split("=", 1) for e in _plain(runtime.raw_inputs["envs"]))
    key = _plain(plan.by_name()["local-api-key"].raw_inputs.get("result", ""))
    assert "INFERSTACK_API_KEY" not in envs
    digest = envs["INFERSTACK_API_KEY_HASHES"]
    assert re.fullmatch("[0-9a-f]{64}", digest)
    if key:  # the mocks echo inputs; RandomPassword's result is computed
        assert digest == hashlib.sha256(key.encode()).hexdigest()


def _plain(value: Any) -> Any:
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return _plain(value["value"])
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def test_captured_data_outlives_the_stack(registrations: dict) -> None:
    run_plan("local")
    assert registrations["local-capture"].retainOnDelete is True


def _image_inputs() -> dict[str, Any]:
    def build() -> dict[str, Any]:
        image = RuntimeImage("m", RuntimeImageArgs(BUNDLE, "churn-logreg", "1.0.0"))
        return {"ref": image.image_ref}

    (image,) = run_under_mocks(build, stack="local").of_type("docker:index/image:Image")
    return image.raw_inputs


def test_build_inputs_do_not_depend_on_the_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine hands the provider the stored build block (ignore_changes); it must
    resolve on any machine and checkout, under any cache folder."""
    monkeypatch.delenv("INFERSTACK_BUILD_DIR", raising=False)
    seen = []
    for machine in ("laptop", "ci"):
        checkout = tmp_path / machine / "checkout" / "stacks"
        checkout.mkdir(parents=True)
        monkeypatch.chdir(checkout)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / machine / "cache"))
        monkeypatch.setenv("HOME", str(tmp_path / machine))
        inputs = _image_inputs()
        context = Path(inputs["build"]["context"])
        assert (context / "bundle" / "inferstack.yaml").is_file()
        assert (Path(inputs["build"]["dockerfile"])).is_file()
        seen.append(inputs)
    assert seen[0] == seen[1]
    assert not Path(seen[0]["build"]["context"]).is_absolute()
