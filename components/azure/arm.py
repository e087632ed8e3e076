"""A small Azure REST client for the target's dynamic providers (traffic, bundle upload).

Standard library HTTP and an Azure AD token from `azure-identity`'s
`DefaultAzureCredential` (imported on use, so planning needs no Azure SDK). The base
URLs and the credential can be passed in, which is how the tests point it at a real
HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import time
import urllib.error
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


def default_credential() -> TokenCredential:
    """azure-identity's DefaultAzureCredential (environment, workload or managed identity,
    Azure CLI login), as the azure-native provider itself authenticates."""
    try:
        from azure.identity import DefaultAzureCredential
    except ModuleNotFoundError as err:
        raise DeployError(
            "the Azure target's traffic and upload steps need azure-identity: "
            "pip install 'inferstack[azure]'"
        ) from err
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
