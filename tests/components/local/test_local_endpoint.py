"""`LocalEndpoint` and the `local` stack under Pulumi's mock runtime."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from inferstack.components.errors import SpecError
from inferstack.components.image.component import RuntimeImage, RuntimeImageArgs
from inferstack.components.image.context import GPU_BASE_IMAGE, flavor, plan_build
from inferstack.components.local.endpoint import LocalEndpoint, LocalPorts, check_local_spec
from inferstack.components.plan.run import SECRET_MASK, run_plan, run_under_mocks
from inferstack.runtime.auth import hash_key
from tests.components.local.conftest import BUNDLE, Declared, declare, local_spec


def _endpoint(spec: Any, **kwargs: Any) -> Declared:
    def build() -> dict[str, Any]:
        endpoint = LocalEndpoint("churn", spec, **kwargs)
        return {
            "url": endpoint.url,
            "api_key": endpoint.api_key,
            "dashboard_url": endpoint.dashboard_url,
        }

    return declare(build)


def _unsecret(value: Any) -> Any:
    """The plain value of an input the mocks received as a secret."""
    from pulumi.runtime import rpc

    return value["value"] if rpc.is_rpc_secret(value) else value


def _env(container: dict[str, Any]) -> dict[str, str]:
    return dict(_unsecret(e).split("=", 1) for e in _unsecret(container["envs"]))


def _image(declared: Declared) -> dict[str, Any]:
    """The inputs of the one docker Image (its name carries the content hash)."""
    (image,) = declared.of_type("docker:index/image:Image").values()
    return image


def _uploads(container: dict[str, Any]) -> dict[str, str]:
    return {u["file"]: u["content"] for u in _unsecret(container["uploads"])}


def test_local_stack_plan_declares_the_endpoint_and_masks_secrets() -> None:
    plan = run_plan("local")
    by_name = {r.name: r for r in plan.resources}
    endpoint = next(r for r in plan.resources if r.type == "inferstack:local:LocalEndpoint")
    runtime = by_name[f"{endpoint.name}-runtime"]
    assert runtime.parent == endpoint.name
    assert by_name[f"{endpoint.name}-image"].type == "inferstack:image:RuntimeImage"
    assert by_name[f"{endpoint.name}-monitoring-prometheus"].parent == f"{endpoint.name}-monitoring"
    assert runtime.inputs["envs"] == SECRET_MASK  # it carries the API key
    assert plan.outputs["api_key"] == SECRET_MASK
    assert plan.outputs["endpoint_url"] == "http://127.0.0.1:8080"
    assert plan.outputs["dashboard_url"].startswith("http://127.0.0.1:3000/d/")


def test_runtime_container_wiring() -> None:
    declared = _endpoint(local_spec())
    image = _image(declared)
    container = declared.inputs["churn-runtime"]
    assert container["image"] == image["imageName"]
    assert container["ports"] == [{"internal": 8080, "external": 8080, "ip": "127.0.0.1"}]
    assert container["restart"] == "unless-stopped"
    assert container["healthcheck"]["tests"] == [
        "CMD",
        "python",
        "/usr/local/bin/inferstack-healthcheck",
    ]
    assert container["wait"] is True
    # A replacement (new model version) or `make down` drains in-flight requests.
    assert container["stopSignal"] == "SIGTERM"
    assert container["destroyGraceSeconds"] == container["stopTimeout"] == 30
    assert container["networksAdvanced"][0]["aliases"] == ["inferstack-churn-runtime"]
    from pulumi.runtime import rpc

    assert rpc.is_rpc_secret(container["envs"])  # the API key travels as a secret
    env = _env(container)
    key = declared.inputs["churn-api-key"]
    assert key["length"] >= 32
    assert len(declared.outputs["api_key"]) >= 32
    # Only the key's hash: `docker inspect` shows the environment in plain text.
    assert "INFERSTACK_API_KEY" not in env
    assert env["INFERSTACK_API_KEY_HASHES"] == hash_key(declared.outputs["api_key"])
    assert env["INFERSTACK_CAPTURE_SAMPLE_RATE"] == "0.1"  # data_capture_percent: 10
    assert env["INFERSTACK_MODEL_NAME"] == "churn-logreg"  # served as the spec names it
    assert {"api_key"} <= declared.secret_outputs


def test_image_is_built_from_the_bundle_with_a_content_tag() -> None:
    declared = _endpoint(local_spec())
    image = _image(declared)
    build = image["build"]
    context = Path(build["context"])
    assert (context / "bundle" / "inferstack.yaml").read_bytes() == (
        BUNDLE / "inferstack.yaml"
    ).read_bytes()
    assert (context / "bundle" / "model.skops").read_bytes() == (
        BUNDLE / "model.skops"
    ).read_bytes()
    assert build["dockerfile"] == str(context / "runtime" / "Dockerfile")
    assert build["target"] == "model"
    assert build["args"]["MODEL_NAME"] == "churn-logreg"
    expected = plan_build(BUNDLE, "churn-logreg", "1.0.0", flavor())
    assert image["imageName"] == f"inferstack/churn-logreg:{expected.tag}"
    assert image["skipPush"] is True


def test_tag_changes_with_the_bundle_only(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for f in BUNDLE.iterdir():
        (bundle / f.name).write_bytes(f.read_bytes())
    first = plan_build(bundle, "m", "1.0.0", flavor(), staging=tmp_path / "ctx")
    again = plan_build(bundle, "m", "1.0.0", flavor(), staging=tmp_path / "ctx")
    assert first.tag == again.tag
    assert first.tag.startswith("1.0.0-")
    (bundle / "model.joblib").write_bytes(b"other weights")
    changed = plan_build(bundle, "m", "1.0.0", flavor(), staging=tmp_path / "ctx")
    assert changed.tag != first.tag
    assert (changed.context / "bundle" / "model.joblib").read_bytes() == b"other weights"


def test_prometheus_scrapes_the_runtime_and_grafana_reads_prometheus() -> None:
    """Host ports come from the spec's `targets.local` settings (stack config)."""
    declared = _endpoint(
        local_spec(
            targets={"local": {"port": 18080, "prometheus_port": 19090, "grafana_port": 13000}}
        )
    )
    runtime = declared.inputs["churn-runtime"]
    prometheus = declared.inputs["churn-monitoring-prometheus"]
    grafana = declared.inputs["churn-monitoring-grafana"]
    network = declared.inputs["churn-network"]["name"]
    for container in (runtime, prometheus, grafana):
        assert container["networksAdvanced"][0]["name"] == network
    config = yaml.safe_load(_uploads(prometheus)["/etc/prometheus/prometheus.yml"])
    job = config["scrape_configs"][0]
    assert job["static_configs"][0]["targets"] == [f"{runtime['name']}:8080"]
    assert job["metrics_path"] == "/metrics"
    assert config["rule_files"] == ["/etc/prometheus/rules/inferstack.rules.yml"]
    datasource = yaml.safe_load(
        _uploads(grafana)["/etc/grafana/provisioning/datasources/inferstack.yaml"]
    )
    url = datasource["datasources"][0]["url"]
    assert url == f"http://{prometheus['networksAdvanced'][0]['aliases'][0]}:9090"
    assert prometheus["ports"][0]["ip"] == "127.0.0.1"
    assert prometheus["ports"][0]["external"] == 19090
    assert grafana["ports"][0]["ip"] == "127.0.0.1"
    assert grafana["ports"][0]["external"] == 13000
    assert runtime["ports"][0] == {"internal": 8080, "external": 18080, "ip": "127.0.0.1"}
    assert declared.outputs["dashboard_url"] == "http://127.0.0.1:13000/d/inferstack-churn"
    assert declared.outputs["url"] == "http://127.0.0.1:18080"
    assert "GF_SECURITY_ADMIN_PASSWORD" in _env(grafana)


def test_ports_given_in_code_win_over_the_spec() -> None:
    declared = _endpoint(
        local_spec(targets={"local": {"port": 18080}}),
        ports=LocalPorts(endpoint=28080, prometheus=29090, grafana=23000),
    )
    assert declared.inputs["churn-runtime"]["ports"][0]["external"] == 28080
    assert declared.outputs["url"] == "http://127.0.0.1:28080"


def test_without_dashboard_or_api_key() -> None:
    declared = _endpoint(
        local_spec(
            observability={"dashboard": False, "data_capture_percent": 0}, gateway={"auth": "none"}
        )
    )
    assert not declared.of_type("RandomPassword")
    assert not declared.of_type("LocalMonitoring")
    assert not {"INFERSTACK_API_KEY", "INFERSTACK_API_KEY_HASHES"} & set(
        _env(declared.inputs["churn-runtime"])
    )
    assert declared.outputs["dashboard_url"] == ""
    assert declared.outputs["api_key"] == ""


def test_gpu_accelerator_builds_the_gpu_flavour_and_requests_gpus() -> None:
    declared = _endpoint(local_spec(compute={"accelerator": "nvidia-t4"}))
    assert declared.inputs["churn-runtime"]["gpus"] == "all"
    args = _image(declared)["build"]["args"]
    assert args["BASE_IMAGE"] == GPU_BASE_IMAGE
    assert args["EXTRAS"] == "runtime,sklearn"  # the GPU base image; sklearn has no GPU build


@pytest.mark.parametrize(
    ("artifact", "message"),
    [
        ("s3://bucket/model.tar.gz", "bundle folder, not"),
        ("/nonexistent/bundle", "no bundle folder at /nonexistent/bundle"),
    ],
)
def test_local_spec_needs_a_bundle_folder(artifact: str, message: str) -> None:
    spec = local_spec()
    spec = spec.model_copy(update={"model": spec.model.model_copy(update={"artifact": artifact})})
    with pytest.raises(SpecError, match=message):
        check_local_spec(spec)


def test_ports_are_a_frozen_dataclass() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        LocalPorts().endpoint = 1  # type: ignore[misc]


def _image_plan(bundle: Path) -> dict[str, Any]:
    """The docker Image a RuntimeImage declares for `bundle`: urn, inputs, ignore_changes."""

    def build() -> dict[str, Any]:
        image = RuntimeImage("m", RuntimeImageArgs(bundle, "churn-logreg", "1.0.0"))
        return {"ref": image.image_ref}

    (image,) = run_under_mocks(build, stack="local").of_type("docker:index/image:Image")
    return {"urn": image.urn, "inputs": image.raw_inputs, "ignore": image.ignore_changes}


def _applied(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The inputs the engine sends the provider for `new` given the state `old`: for the
    same resource (URN), every property in ignore_changes keeps its old value."""
    if old["urn"] != new["urn"]:
        return new["inputs"]
    return {**new["inputs"], **{k: old["inputs"][k] for k in new["ignore"]}}


def _copy_bundle(dest: Path) -> Path:
    dest.mkdir()
    for f in BUNDLE.iterdir():
        (dest / f.name).write_bytes(f.read_bytes())
    return dest


def test_new_weights_are_what_the_provider_builds(tmp_path: Path) -> None:
    """A changed bundle reaches the build: no ignored property carries the old context."""
    bundle = _copy_bundle(tmp_path / "bundle")
    old = _image_plan(bundle)
    (bundle / "model.joblib").write_bytes(b"new weights")
    new = _image_plan(bundle)
    applied = _applied(old, new)
    assert applied["imageName"] == new["inputs"]["imageName"] != old["inputs"]["imageName"]
    context = Path(applied["build"]["context"])
    assert (context / "bundle" / "model.joblib").read_bytes() == b"new weights"


def test_a_private_bundle_is_staged_readable_by_the_image_user(tmp_path: Path) -> None:
    """COPY keeps modes and the server runs as uid 10001: a umask-077 bundle must work."""
    bundle = _copy_bundle(tmp_path / "bundle")
    (bundle / "extra").mkdir()
    (bundle / "extra" / "vocab.txt").write_text("a\n")
    for path in (bundle, *bundle.rglob("*")):
        path.chmod(0o700 if path.is_dir() else 0o600)
    plan = plan_build(bundle, "m", "1.0.0", flavor(), staging=tmp_path / "ctx")
    staged = plan.context / "bundle"
    for path in (staged, *staged.rglob("*")):
        assert path.stat().st_mode & 0o777 == (0o755 if path.is_dir() else 0o644), path
    assert (plan.context / "runtime" / "docker" / "entrypoint.sh").stat().st_mode & 0o777 == 0o755
