"""A small Azure REST client for the target's dynamic providers (traffic, bundle upload).

Standard library HTTP and an Azure AD token from `azure-identity`'s
`DefaultAzureCredential` (imported on use, so planning needs no Azure SDK). The base
URLs and the credential can be passed in, which is how the tests point it at a real
HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol

from inferstack.components.errors import DeployError

ARM = "https://management.azure.com"
ARM_SCOPE = "https://management.azure.com/.default"
STORAGE_SCOPE = "https://storage.azure.com/.default"
# Role assignments take minutes to reach the data plane; a 403 within this window is
# retried rather than failing the first `pulumi up`.
PROPAGATION_WAIT_S = 600.0


class AzureRequestError(DeployError):
    """An Azure REST call failed; the message names the call and Azure's answer."""

    def __init__(self, method: str, url: str, status: int, body: str) -> None:
        super().__init__(f"{method} {url}: HTTP {status}: {body[:500]}")
        self.status = status


class TokenCredential(Protocol):
    """What azure-identity's credentials offer: `get_token(scope).token`."""

    def get_token(self, *scopes: str) -> Any: ...


GITHUB_AUDIENCE = "api://AzureADTokenExchange"
"""The audience Azure AD's federated credentials for GitHub Actions expect."""


def _first(env: Mapping[str, str], *names: str) -> str:
    return next((env[n] for n in names if env.get(n)), "")


def github_id_token(env: Mapping[str, str] | None = None) -> str:
    """A fresh GitHub Actions OIDC token for Azure AD (one per call: each lives minutes)."""
    env = os.environ if env is None else env
    url = env["ACTIONS_ID_TOKEN_REQUEST_URL"]
    query = urllib.parse.urlencode({"audience": GITHUB_AUDIENCE})
    req = urllib.request.Request(f"{url}{'&' if '?' in url else '?'}{query}")  # noqa: S310
    req.add_header("Authorization", f"bearer {env['ACTIONS_ID_TOKEN_REQUEST_TOKEN']}")
    try:
        with urllib.request.urlopen(req, timeout=30) as response:  # noqa: S310
            return str(json.loads(response.read())["value"])
    except (urllib.error.URLError, KeyError, ValueError) as err:
        raise DeployError(f"GitHub Actions OIDC token request failed: {err}") from err


def default_credential(env: Mapping[str, str] | None = None) -> TokenCredential:
    """In GitHub Actions with an id-token permission and a client and tenant ID
    (AZURE_* or ARM_*): a client-assertion credential that fetches a new GitHub OIDC
    token for every Azure AD token, since the az CLI session `azure/login` leaves cannot
    get new tokens once its 10-minute assertion expires (AADSTS700024), which a long
    deploy outlives. Elsewhere azure-identity's DefaultAzureCredential (environment,
    workload or managed identity, Azure CLI login), as the azure-native provider does."""
    env = os.environ if env is None else env
    try:
        from azure.identity import ClientAssertionCredential, DefaultAzureCredential
    except ModuleNotFoundError as err:
        raise DeployError(
            "the Azure target's traffic and upload steps need azure-identity: "
            "pip install 'inferstack[azure]'"
        ) from err
    client_id = _first(env, "AZURE_CLIENT_ID", "ARM_CLIENT_ID")
    tenant_id = _first(env, "AZURE_TENANT_ID", "ARM_TENANT_ID")
    github = env.get("ACTIONS_ID_TOKEN_REQUEST_URL") and env.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
    if github and client_id and tenant_id:
        return ClientAssertionCredential(  # type: ignore[no-any-return]
            tenant_id, client_id, func=lambda: github_id_token(env)
        )
    return DefaultAzureCredential()  # type: ignore[no-any-return]


def request(
    credential: TokenCredential,
    scope: str,
    method: str,
    url: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    retry_forbidden_s: float = 0.0,
    sleep: float = 10.0,
) -> tuple[int, dict[str, str], bytes]:
    """One authenticated call; a 403 is retried for `retry_forbidden_s` seconds (role
    assignments propagating), anything else at or above 400 raises AzureRequestError."""
    deadline = time.monotonic() + retry_forbidden_s
    while True:
        token = credential.get_token(scope).token
        req = urllib.request.Request(url, data=body, method=method)  # noqa: S310 (https or test URL)
        req.add_header("Authorization", f"Bearer {token}")
        for key, value in (headers or {}).items():
            req.add_header(key, value)
        try:
            with urllib.request.urlopen(req, timeout=60) as response:  # noqa: S310
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            text = err.read().decode(errors="replace")
            if err.code == 403 and time.monotonic() < deadline:
                time.sleep(sleep)
                continue
            raise AzureRequestError(method, url, err.code, text) from err


def arm_json(
    credential: TokenCredential,
    method: str,
    url: str,
    payload: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """An ARM call with a JSON body and answer."""
    body = json.dumps(payload).encode() if payload is not None else None
    headers = {"Content-Type": "application/json"} if body is not None else {}
    _, _, data = request(credential, ARM_SCOPE, method, url, body, headers)
    return json.loads(data) if data else {}
