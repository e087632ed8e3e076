"""A small ARM server on 127.0.0.1 with the routes the Azure lifecycle calls: the
workspaces of a resource group, an online endpoint (GET, PUT), its deployments, a
model's versions and Alerts Management's fired alerts.

It answers as Azure ML does where the lifecycle depends on it: a PUT of the endpoint
is refused when live traffic does not sum to 100, names a missing deployment, or
mirrors to a deployment with live traffic; after a PUT the endpoint is `Updating` for
`updating_gets` reads before it reports `Succeeded` with the new split.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from inferstack.components.azure.context import AzureNames
from inferstack.runtime.contract import Env

TOKEN = "test-token"
ML = "Microsoft.MachineLearningServices"


class FakeCredential:
    """azure-identity's shape: `get_token(scope).token`."""

    @dataclass
    class Token:
        token: str
        expires_on: int = 2**31

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def get_token(self, *scopes: str) -> FakeCredential.Token:
        self.scopes += scopes
        return self.Token(TOKEN)


@dataclass
class ArmState:
    """What the fake Azure holds, and the calls it saw."""

    subscription: str
    names: AzureNames
    workspace: str
    deployments: dict[str, str]
    """Deployment name -> the model version in its environment."""
    traffic: dict[str, int]
    mirror: dict[str, int] = field(default_factory=dict)
    registered: list[str] = field(default_factory=list)
    fired: set[str] = field(default_factory=set)
    """Alert rule names with a fired alert."""
    updating_gets: int = 2
    calls: list[tuple[str, str]] = field(default_factory=list)
    _pending: int = 0
    _state: str = "Succeeded"

    @property
    def group(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.names.resource_group}"

    @property
    def workspace_path(self) -> str:
        return f"{self.group}/providers/{ML}/workspaces/{self.workspace}"

    @property
    def endpoint_path(self) -> str:
        return f"{self.workspace_path}/onlineEndpoints/{self.names.endpoint}"

    def puts(self) -> list[str]:
        """Paths of the PUT calls seen."""
        return [path for method, path in self.calls if method == "PUT"]

    def rule_id(self, name: str) -> str:
        kind = "scheduledQueryRules" if name.endswith("-5xx") else "metricAlerts"
        return f"{self.group}/providers/Microsoft.Insights/{kind}/{name}"

    def endpoint(self) -> dict[str, Any]:
        state = self._state
        if self._pending:
            self._pending -= 1
            if not self._pending:
                self._state = "Succeeded"
        return {
            "id": self.endpoint_path,
            "name": self.names.endpoint,
            "location": "eastus",
            "tags": {"inferstack-model": "churn-logreg"},
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {"/id": {}}},
            "kind": "Managed",
            "properties": {
                "authMode": "Key",
                "traffic": dict(self.traffic),
                "mirrorTraffic": dict(self.mirror),
                "provisioningState": state,
                "scoringUri": "https://example.invalid/score",
            },
        }

    def put_endpoint(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        properties = body.get("properties", {})
        if "provisioningState" in properties or "scoringUri" in properties:
            return 400, {"error": {"code": "BadRequest", "message": "read-only property sent"}}
        traffic = {k: int(v) for k, v in properties.get("traffic", {}).items()}
        mirror = {k: int(v) for k, v in properties.get("mirrorTraffic", {}).items() if v}
        if sum(traffic.values()) != 100:
            return 400, {"error": {"code": "BadRequest", "message": "traffic must sum to 100"}}
        missing = set(traffic) - set(self.deployments)
        if missing:
            return 400, {"error": {"code": "BadRequest", "message": f"no deployment {missing}"}}
        if any(traffic.get(k) for k in mirror) or any(v > 50 for v in mirror.values()):
            return 400, {"error": {"code": "BadRequest", "message": "invalid mirror traffic"}}
        self.traffic = {k: v for k, v in traffic.items()}
        self.mirror = mirror
        self._state, self._pending = "Updating", self.updating_gets
        return 200, self.endpoint()

    def get(self, path: str, query: dict[str, str]) -> tuple[int, Any]:
        alerts = f"/subscriptions/{self.subscription}/providers/Microsoft.AlertsManagement/alerts"
        if path == f"{self.group}/providers/{ML}/workspaces":
            other = re.sub(r"-[a-z0-9]+$", "-zzzzzz", self.names.workspace_prefix)  # not ours
            names = [self.workspace, f"{other}-other"]
            return 200, {"value": [{"name": n, "id": f"{path}/{n}"} for n in names]}
        if path == self.endpoint_path:
            return 200, self.endpoint()
        if path == f"{self.endpoint_path}/deployments":
            return 200, {
                "value": [
                    {
                        "name": name,
                        "tags": {"inferstack-version": version},
                        "properties": {"environmentVariables": {Env.MODEL_VERSION: version}},
                    }
                    for name, version in self.deployments.items()
                ]
            }
        if path == f"{self.workspace_path}/models/{self.names.model}/versions":
            return 200, {
                "value": [
                    {"name": v, "id": f"{path}/{v}", "properties": {"description": f"model {v}"}}
                    for v in self.registered
                ]
            }
        if path == alerts:
            rule = query.get("alertRule", "")
            value = [
                {
                    "name": f"alert-{name}",
                    "properties": {
                        "essentials": {
                            "alertRule": self.rule_id(name),
                            "monitorCondition": "Fired",
                            "alertState": "New",
                        }
                    },
                }
                for name in sorted(self.fired)
                if not rule or self.rule_id(name).lower() == rule.lower()
            ]
            return 200, {"value": value}
        return 404, {"error": {"code": "NotFound", "message": path}}


@contextmanager
def arm_server(state: ArmState) -> Iterator[str]:
    """`state` served on 127.0.0.1; yields the base URL."""

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
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._answer(401, {"error": {"code": "AuthenticationFailed"}})
                return
            if "api-version" not in query:
                self._answer(400, {"error": {"code": "MissingApiVersionParameter"}})
                return
            if method == "PUT" and url.path == state.endpoint_path:
                length = int(self.headers.get("Content-Length", 0))
                self._answer(*state.put_endpoint(json.loads(self.rfile.read(length))))
                return
            if method == "GET":
                self._answer(*state.get(url.path, query))
                return
            self._answer(405, {"error": {"code": "MethodNotAllowed"}})

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
