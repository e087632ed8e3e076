"""The Azure dynamic providers against a real HTTP server on 127.0.0.1 that answers as
ARM and the Blob service do: the traffic split is read, written back whole with the new
traffic (read-only fields dropped) and waited on; a bundle's files are put as block blobs
with an Azure AD bearer token and their MD5, and a 403 while a role assignment
propagates is retried."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from inferstack.components.azure.arm import AzureRequestError
from inferstack.components.azure.traffic import TrafficProvider, check_split
from inferstack.components.azure.upload import BundleUploadProvider, bundle_files
from inferstack.components.errors import DeployError

ENDPOINT = (
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices"
    "/workspaces/ws/onlineEndpoints/churn"
)


@dataclass
class Token:
    token: str = "test-token"


class Credential:
    def get_token(self, *scopes: str) -> Token:
        return Token(f"token-for-{scopes[0]}")


@dataclass
class FakeAzure:
    """State of the fake: the endpoint body, blobs, and every request seen."""

    endpoint: dict[str, Any] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str, dict[str, str], bytes]] = field(default_factory=list)
    forbid_first: int = 0
    states: list[str] = field(default_factory=list)


@pytest.fixture
def azure() -> Iterator[tuple[str, FakeAzure]]:
    fake = FakeAzure(
        endpoint={
            "location": "eastus",
            "tags": {"a": "b"},
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {"/id": {}}},
            "properties": {
                "authMode": "Key",
                "traffic": {},
                "scoringUri": "https://churn.eastus.inference.ml.azure.com/score",
                "provisioningState": "Succeeded",
            },
        }
    )

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _record(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fake.requests.append(
                (self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            )
            return body

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._record()
            body = json.loads(json.dumps(fake.endpoint))
            if fake.states:
                body["properties"]["provisioningState"] = fake.states.pop(0)
            self._json(200, body)

        def do_PUT(self) -> None:
            body = self._record()
            if self.path.startswith("/blobs/"):
                if fake.forbid_first:
                    fake.forbid_first -= 1
                    self._json(403, {"error": "AuthorizationPermissionMismatch"})
                    return
                fake.blobs[self.path.removeprefix("/blobs/")] = body
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            fake.endpoint = {**json.loads(body)}
            fake.endpoint["properties"]["provisioningState"] = "Updating"
            self._json(200, fake.endpoint)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", fake
    finally:
        server.shutdown()
        server.server_close()


def test_traffic_is_written_back_whole_and_waited_on(azure: tuple[str, FakeAzure]) -> None:
    base, fake = azure
    fake.states = ["Updating", "Succeeded", "Updating", "Succeeded"]
    provider = TrafficProvider(arm=base, credential=Credential, poll_s=0.01)
    result = provider.create(
        {"endpoint_id": ENDPOINT, "traffic": {"blue": 90.0, "green": 10.0}, "mirror": {}}
    )
    assert result.outs["traffic"] == {"blue": 90, "green": 10}
    methods = [m for m, *_ in fake.requests]
    # Waits out a running operation, writes, waits for its own.
    assert methods == ["GET", "GET", "PUT", "GET", "GET"]
    _, path, headers, body = fake.requests[2]
    assert path == f"{ENDPOINT}?api-version=2024-10-01"
    assert headers["authorization"] == "Bearer token-for-https://management.azure.com/.default"
    sent = json.loads(body)
    assert sent["properties"]["traffic"] == {"blue": 90, "green": 10}
    assert sent["properties"]["mirrorTraffic"] == {}
    assert "scoringUri" not in sent["properties"]
    assert "provisioningState" not in sent["properties"]
    assert sent["identity"]["type"] == "UserAssigned"
    assert sent["tags"] == {"a": "b"}


def test_a_failed_traffic_update_names_the_state(azure: tuple[str, FakeAzure]) -> None:
    base, fake = azure
    fake.states = ["Succeeded", "Failed"]
    provider = TrafficProvider(arm=base, credential=Credential, poll_s=0.01)
    with pytest.raises(DeployError, match="ended Failed"):
        provider.create({"endpoint_id": ENDPOINT, "traffic": {"blue": 100}, "mirror": {}})


@pytest.mark.parametrize(
    ("traffic", "mirror", "words"),
    [
        ({"blue": 90, "green": 5}, {}, "sums to 95"),
        ({"blue": 100, "green": 0}, {"green": 60}, "50% at most"),
        ({"blue": 50, "green": 50}, {"green": 10}, "live and mirror"),
    ],
)
def test_split_rules_refuse_before_any_call(
    traffic: dict[str, int], mirror: dict[str, int], words: str
) -> None:
    with pytest.raises(DeployError, match=words):
        check_split(traffic, mirror)


def test_bundle_files_are_put_as_block_blobs(azure: tuple[str, FakeAzure], tmp_path: Path) -> None:
    base, fake = azure
    (tmp_path / "inferstack.yaml").write_text("name: churn\n")
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "model.onnx").write_bytes(b"\x00\x01weights")
    files = bundle_files(tmp_path)
    assert set(files) == {"inferstack.yaml", "artifacts/model.onnx"}
    fake.forbid_first = 1  # the role assignment has not reached the data plane yet
    provider = BundleUploadProvider(credential=Credential, retry_forbidden_s=5, retry_sleep_s=0.05)
    import inferstack.components.azure.arm as arm

    result = provider.create(
        {
            "bundle_dir": str(tmp_path),
            "container_url": f"{base}/blobs/models",
            "prefix": "churn/1.0.0",
            "files": files,
        }
    )
    assert result.outs["uri"] == f"{base}/blobs/models/churn/1.0.0/"
    assert fake.blobs["models/churn/1.0.0/artifacts/model.onnx"] == b"\x00\x01weights"
    assert fake.blobs["models/churn/1.0.0/inferstack.yaml"] == b"name: churn\n"
    puts = [r for r in fake.requests if r[0] == "PUT"]
    assert len(puts) == 3  # one refused, then both files
    headers = puts[-1][2]
    assert headers["x-ms-blob-type"] == "BlockBlob"
    assert headers["authorization"] == "Bearer token-for-https://storage.azure.com/.default"
    assert headers["content-md5"] == base64.b64encode(hashlib.md5(puts[-1][3]).digest()).decode()  # noqa: S324
    assert arm.PROPAGATION_WAIT_S >= 300


def test_a_403_after_the_propagation_window_fails_naming_the_call(
    azure: tuple[str, FakeAzure], tmp_path: Path
) -> None:
    base, fake = azure
    (tmp_path / "inferstack.yaml").write_text("name: churn\n")
    fake.forbid_first = 10
    provider = BundleUploadProvider(credential=Credential, retry_forbidden_s=0)
    with pytest.raises(AzureRequestError, match="HTTP 403"):
        provider.create(
            {
                "bundle_dir": str(tmp_path),
                "container_url": f"{base}/blobs/models",
                "prefix": "churn/1.0.0",
                "files": bundle_files(tmp_path),
            }
        )


def _upload_props(files: dict[str, str], prefix: str = "churn/1.0.0") -> dict[str, Any]:
    return {
        "kind": "azure-bundle-upload",
        "bundle_dir": "/tmp/bundle",
        "container_url": "https://st.blob.core.windows.net/models",
        "prefix": prefix,
        "files": files,
        "uri": f"https://st.blob.core.windows.net/models/{prefix}/",
    }


def test_a_changed_bundle_under_the_same_version_is_refused() -> None:
    provider = BundleUploadProvider()
    olds = _upload_props({"inferstack.yaml": "a"})
    result = provider.check(olds, _upload_props({"inferstack.yaml": "b"}))
    assert [f.property for f in result.failures] == ["files"]
    assert "bump model.version" in result.failures[0].reason
    assert not provider.check({}, olds).failures
    assert not provider.check(olds, _upload_props({"x": "b"}, prefix="churn/1.0.1")).failures


def test_the_upload_is_replaced_at_a_new_prefix_and_never_updated_in_place() -> None:
    provider = BundleUploadProvider()
    olds = _upload_props({"inferstack.yaml": "a"})
    moved = provider.diff("id", olds, _upload_props({"inferstack.yaml": "a"}, "churn/1.0.1"))
    assert moved.changes
    assert moved.replaces == ["prefix"]
    same = provider.diff("id", olds, {**olds, "bundle_dir": "/elsewhere"})
    assert not same.changes
    provider.delete("id", olds)  # leaves the blobs: a model version points at them
