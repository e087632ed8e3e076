"""The pod the GKE target declares, run for real: the runtime started with the
Deployment's own environment (the API-key hash from the Secret, the drain bound, the
model version) on the committed example bundle, then probed on the routes the
manifests name. Only host and port are changed, to a free port on 127.0.0.1."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx

from inferstack.components.gcp import routing, workloads
from inferstack.components.gcp.serving import EdgeNames, serving_objects
from inferstack.runtime.auth import hash_key
from inferstack.runtime.contract import Env, Metric
from tests.components.gcp.conftest import IMAGE, context, gke_spec
from tests.conftest import ROOT
from tests.runtime.server import RuntimeServer

EXAMPLE = ROOT / "examples" / "logreg-20f"
KEY = "k" * 40


def objects() -> list[dict[str, Any]]:
    model = {"name": "churn", "version": "1.0.0", "framework": "sklearn", "artifact": "b"}
    spec = gke_spec(
        model=model,
        rollout={"strategy": "all_at_once"},
        targets={"gcp": {"project": "inferstack-prod", "domain": "churn.example.com"}},
    )
    edge = EdgeNames("a", "armor", "map")
    return serving_objects(
        context(spec), IMAGE, "gsa@p.iam.gserviceaccount.com", hash_key(KEY), edge
    )


def pod_env(found: list[dict[str, Any]], deployment: dict[str, Any]) -> dict[str, str]:
    secret = next(o for o in found if o["kind"] == "Secret")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {}
    for item in container["env"]:
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == secret["metadata"]["name"]
            env[item["name"]] = secret["stringData"][ref["key"]]
        else:
            env[item["name"]] = item["value"]
    return env


def test_the_declared_pod_serves_its_probes_route_and_metrics(tmp_path: Path) -> None:
    found = objects()
    deployment = next(o for o in found if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    env = {k: v for k, v in pod_env(found, deployment).items() if k not in (Env.HOST, Env.PORT)}
    assert int(pod_env(found, deployment)[Env.PORT]) == container["ports"][0]["containerPort"]
    body = json.loads((EXAMPLE / "request.json").read_text())
    (health,) = [o for o in found if o["kind"] == "HealthCheckPolicy"]
    with RuntimeServer(EXAMPLE / "bundle", tmp_path, env=env).start() as server:
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            path = container[probe]["httpGet"]["path"]
            assert httpx.get(server.url + path, timeout=5).status_code == 200, probe
        lb_path = health["spec"]["default"]["config"]["httpHealthCheck"]["requestPath"]
        assert httpx.get(server.url + lb_path, timeout=5).status_code == 200
        assert "/invocations" in routing.PUBLIC_PREFIXES
        assert server.post("/invocations", json=body).status_code == 401
        answer = server.post("/invocations", json=body, headers={"X-Api-Key": KEY})
        assert answer.status_code == 200, answer.text
        (monitoring,) = [o for o in found if o["kind"] == "PodMonitoring"]
        metrics_path = monitoring["spec"]["endpoints"][0]["path"]
        text = httpx.get(server.url + metrics_path, timeout=5).text
        assert f"{Metric.REQUESTS}_total" in text  # what the HPA and alerts read
        assert 'version="1.0.0"' in text
        assert server.proc is not None
        started = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        server.proc.wait(timeout=workloads.SPOT_POD_SHUTDOWN_S)
        took = time.monotonic() - started
    assert took < workloads.SPOT_POD_SHUTDOWN_S - workloads.PRESTOP_S
