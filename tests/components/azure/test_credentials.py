"""In GitHub Actions the dynamic providers get a fresh GitHub OIDC token for every Azure
AD token (the az CLI session azure/login leaves expires mid-deploy); the token request
goes over real HTTP to a server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from inferstack.components.azure.arm import GITHUB_AUDIENCE, default_credential, github_id_token
from inferstack.components.errors import DeployError

SEEN: list[tuple[str, str]] = []


class TokenServer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        SEEN.append((self.path, self.headers.get("Authorization", "")))
        body = json.dumps({"value": f"github-token-{len(SEEN)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def token_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SEEN.clear()
    yield f"http://127.0.0.1:{server.server_address[1]}/token?api-version=2.0"
    server.shutdown()
    server.server_close()


def github_env(url: str) -> dict[str, str]:
    return {
        "ACTIONS_ID_TOKEN_REQUEST_URL": url,
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runner-secret",
        "AZURE_CLIENT_ID": "11111111-1111-1111-1111-111111111111",
        "AZURE_TENANT_ID": "22222222-2222-2222-2222-222222222222",
    }


def test_each_call_fetches_a_new_github_token_for_azure_ad(token_url: str) -> None:
    env = github_env(token_url)
    assert github_id_token(env) == "github-token-1"
    assert github_id_token(env) == "github-token-2"
    path, auth = SEEN[0]
    query = parse_qs(urlparse(path).query)
    assert query["audience"] == [GITHUB_AUDIENCE]
    assert query["api-version"] == ["2.0"]
    assert auth == "bearer runner-secret"


def test_github_actions_get_a_client_assertion_credential(token_url: str) -> None:
    from azure.identity import ClientAssertionCredential, DefaultAzureCredential

    assert isinstance(default_credential(github_env(token_url)), ClientAssertionCredential)
    assert isinstance(default_credential({}), DefaultAzureCredential)
    no_client = {k: v for k, v in github_env(token_url).items() if k != "AZURE_CLIENT_ID"}
    assert isinstance(default_credential(no_client), DefaultAzureCredential)


def test_a_failed_token_request_is_named() -> None:
    env = github_env("http://127.0.0.1:9/token?x=1")
    with pytest.raises(DeployError, match="GitHub Actions OIDC token request failed"):
        github_id_token(env)
