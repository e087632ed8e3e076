"""A small Kubernetes API server on 127.0.0.1 holding a GKE stack's objects as the GKE
target renders them (`gcp.serving.serving_objects`), with the routes the GKE lifecycle
calls, and managed Prometheus's instant-query route and Artifact Registry's tag list
beside them.

Where the lifecycle depends on the API's behaviour it answers as Kubernetes does: a list
honours its label selector; replacing the HTTPRoute needs the current resourceVersion
(409 otherwise) and bumps `metadata.generation`; the Gateway controller reports the new
generation Accepted and ResolvedRefs only after `reconcile_gets` reads, and refuses a
route whose weights are out of Gateway API's range.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "gmp-test-token"
ROUTES = "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes/{name}"
DEPLOYMENTS = "/apis/apps/v1/namespaces/{ns}/deployments"
CONDITION_QUERIES = {"p99 latency": "histogram_quantile", "5xx rate": 'code=~"5.."'}
"""How the fake Prometheus tells the rollback conditions' queries apart."""


@dataclass
class ClusterState:
    """What the fake cluster and managed Prometheus hold, and the calls they saw."""

    namespace: str
    objects: list[dict[str, Any]]
    """The stack's manifests (Deployments and the HTTPRoute are served)."""
    repository: str = ""
    """`projects/<p>/locations/<l>/repositories/<r>` of the stack's Artifact Registry."""
    package: str = ""
    tags: list[str] = field(default_factory=list)
    """Image tags of the package, served two per page."""
    reconcile_gets: int = 2
    firing: set[str] = field(default_factory=set)
    """Alert conditions (display names) whose query returns a sample."""
    queries: list[str] = field(default_factory=list)
    calls: list[tuple[str, str]] = field(default_factory=list)
    _pending: int = 0

    def __post_init__(self) -> None:
        route = self.route
        route["metadata"].update(generation=1, resourceVersion="1")
        route["status"] = self._status(1)

    @property
    def route(self) -> dict[str, Any]:
        return next(o for o in self.objects if o["kind"] == "HTTPRoute")

    def weights(self) -> dict[str, int]:
        """Service -> weight in the route now."""
        refs = self.route["spec"]["rules"][0]["backendRefs"]
        return {ref["name"]: ref["weight"] for ref in refs}

    def puts(self) -> int:
        return sum(1 for method, _ in self.calls if method == "PUT")

    def _status(self, generation: int, ok: bool = True) -> dict[str, Any]:
        def condition(kind: str) -> dict[str, Any]:
            return {
                "type": kind,
                "status": "True" if ok else "False",
                "reason": kind if ok else "UnsupportedValue",
                "message": "" if ok else "backendRef weight out of range",
                "observedGeneration": generation,
            }

        return {
            "parents": [
                {
                    "parentRef": {"name": self.route["spec"]["parentRefs"][0]["name"]},
                    "controllerName": "networking.gke.io/gateway",
                    "conditions": [condition("Accepted"), condition("ResolvedRefs")],
                }
            ]
        }

    def get_route(self) -> dict[str, Any]:
        route = self.route
        if self._pending:
            self._pending -= 1
            if not self._pending:
                generation = route["metadata"]["generation"]
                ok = all(0 <= w <= 1_000_000 for w in self.weights().values())
                route["status"] = self._status(generation, ok)
        return route

    def replace_route(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        route = self.route
        version = body.get("metadata", {}).get("resourceVersion")
        if version != route["metadata"]["resourceVersion"]:
            return 409, {"kind": "Status", "status": "Failure", "reason": "Conflict", "code": 409}
        generation = route["metadata"]["generation"] + 1
        body["metadata"].update(generation=generation, resourceVersion=str(int(version) + 1))
        body["status"] = route["status"]  # the controller has not seen the new generation
        self.objects[self.objects.index(route)] = body
        self._pending = self.reconcile_gets
        return 200, body

    def deployments(self, selector: str) -> dict[str, Any]:
        want = dict(term.split("=", 1) for term in selector.split(",") if term)
        items = [
            o
            for o in self.objects
            if o["kind"] == "Deployment"
            and all(o["metadata"]["labels"].get(k) == v for k, v in want.items())
        ]
        return {"kind": "DeploymentList", "apiVersion": "apps/v1", "metadata": {}, "items": items}

    def tag_page(self, token: str) -> dict[str, Any]:
        start = int(token or 0)
        base = f"{self.repository}/packages/{self.package}/tags"
        page: dict[str, Any] = {
            "tags": [{"name": f"{base}/{t}"} for t in self.tags[start : start + 2]]
        }
        if start + 2 < len(self.tags):
            page["nextPageToken"] = str(start + 2)
        return page

    def query(self, promql: str) -> dict[str, Any]:
        self.queries.append(promql)
        hit = any(CONDITION_QUERIES[name] in promql for name in self.firing)
        result = [{"metric": {}, "value": [0, "1"]}] if hit else []
        return {"status": "success", "data": {"resultType": "vector", "result": result}}


@contextmanager
def kube_server(state: ClusterState) -> Iterator[str]:
    """`state` served on 127.0.0.1; yields the base URL (API server and Prometheus)."""
    route_name = state.route["metadata"]["name"]
    route_path = ROUTES.format(ns=state.namespace, name=route_name)
    deployments_path = DEPLOYMENTS.format(ns=state.namespace)

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _route(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            state.calls.append((method, url.path))
            google = url.path == "/api/v1/query" or url.path.startswith("/v1/projects/")
            tags = f"/v1/{state.repository}/packages/{state.package}/tags"
            if google and self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
            elif url.path == "/api/v1/query":
                self._answer(200, state.query(query.get("query", "")))
            elif method == "GET" and url.path == tags:
                self._answer(200, state.tag_page(query.get("pageToken", "")))
            elif method == "GET" and url.path == deployments_path:
                self._answer(200, state.deployments(query.get("labelSelector", "")))
            elif method == "GET" and url.path == route_path:
                self._answer(200, state.get_route())
            elif method == "PUT" and url.path == route_path:
                length = int(self.headers.get("Content-Length", 0))
                self._answer(*state.replace_route(json.loads(self.rfile.read(length))))
            else:
                self._answer(404, {"kind": "Status", "reason": "NotFound", "code": 404})

        def do_GET(self) -> None:
            self._route("GET")

        def do_PUT(self) -> None:
            self._route("PUT")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
