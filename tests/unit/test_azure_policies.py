"""Each Azure policy rule catches its insecure fixture and passes its clean one."""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.policies import azure
from inferstack.policies.base import Subject

OFF = {p: "False" for p in azure.INSECURE_PROTOCOLS}


def s(token: str, name: str, **props: Any) -> Subject:
    return Subject(token, name, props)


CLEAN_STORAGE = {
    "enableHttpsTrafficOnly": True,
    "minimumTlsVersion": "TLS1_2",
    "allowBlobPublicAccess": False,
    "allowSharedKeyAccess": False,
    "encryption": {"services": {"blob": {"enabled": True}}},
}
CLEAN_VAULT = {
    "properties": {
        "enableRbacAuthorization": True,
        "enablePurgeProtection": True,
        "enableSoftDelete": True,
    }
}
EP_ID = (
    "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/"
    "workspaces/w/onlineEndpoints/churn-ab"
)
APIM_ID = (
    "/subscriptions/s/resourceGroups/r/providers/Microsoft.ApiManagement/service/apim-churn-x1"
)
LOGS = {"workspaceId": "/subscriptions/s/workspaces/log", "logs": [{"enabled": True}]}

CASES: list[tuple[str, Any, list[Subject], list[Subject], str]] = [
    (
        "storage-shared-key",
        azure.storage_secure,
        [s(azure.STORAGE, "st", **{**CLEAN_STORAGE, "allowSharedKeyAccess": True})],
        [s(azure.STORAGE, "st", **CLEAN_STORAGE)],
        "shared keys",
    ),
    (
        "storage-public-tls",
        azure.storage_secure,
        [s(azure.STORAGE, "st", **{**CLEAN_STORAGE, "minimumTlsVersion": "TLS1_0"})],
        [s(azure.STORAGE, "st", **CLEAN_STORAGE)],
        "TLS below 1.2",
    ),
    (
        "storage-unencrypted",
        azure.storage_secure,
        [s(azure.STORAGE, "st", **{**CLEAN_STORAGE, "encryption": {}})],
        [s(azure.STORAGE, "st", **CLEAN_STORAGE)],
        "blob encryption",
    ),
    (
        "vault-purge",
        azure.key_vault_protected,
        [s(azure.VAULT, "kv", properties={"enableRbacAuthorization": True})],
        [s(azure.VAULT, "kv", **CLEAN_VAULT)],
        "purged",
    ),
    (
        "registry-admin",
        azure.registry_admin_off,
        [s(azure.REGISTRY, "cr", adminUserEnabled=True)],
        [s(azure.REGISTRY, "cr", adminUserEnabled=False)],
        "admin user",
    ),
    (
        "named-value-inline",
        azure.keys_in_key_vault,
        [s(azure.NAMED_VALUE, "nv", secret=True, value="k3y")],
        [s(azure.NAMED_VALUE, "nv", secret=True, keyVault={"secretIdentifier": "https://v/s"})],
        "back it by key vault",
    ),
    (
        "deployment-env-secret",
        azure.keys_in_key_vault,
        [
            s(
                azure.DEPLOYMENT,
                "blue",
                properties={"environmentVariables": {"INFERSTACK_API_KEY": "x"}},
            )
        ],
        [
            s(
                azure.DEPLOYMENT,
                "blue",
                properties={"environmentVariables": {"INFERSTACK_PORT": "8080"}},
            )
        ],
        "INFERSTACK_API_KEY",
    ),
    (
        "endpoint-auth",
        azure.auth_on_every_entry,
        [s(azure.ENDPOINT, "ep", properties={})],
        [s(azure.ENDPOINT, "ep", properties={"authMode": "Key"})],
        "no Key or AADToken",
    ),
    (
        "api-open",
        azure.auth_on_every_entry,
        [s(azure.API, "api", subscriptionRequired=False)],
        [
            s(azure.API, "api", subscriptionRequired=False),
            s(azure.API_POLICY, "policy", value="<policies><inbound><validate-jwt /></inbound>"),
        ],
        "neither a subscription key",
    ),
    (
        "diagnostics-missing",
        azure.diagnostics_on,
        # Two settings, both on the endpoint: API Management's logs go nowhere.
        [
            s(azure.ENDPOINT, "ep", endpointName="churn-ab"),
            s(azure.APIM, "apim", serviceName="apim-churn-x1"),
            s(azure.DIAGNOSTICS, "d1", resourceUri=EP_ID, **LOGS),
            s(azure.DIAGNOSTICS, "d2", resourceUri=EP_ID, **LOGS),
        ],
        [
            s(azure.ENDPOINT, "ep", endpointName="churn-ab"),
            s(azure.APIM, "apim", serviceName="apim-churn-x1"),
            s(azure.DIAGNOSTICS, "d1", resourceUri=EP_ID, **LOGS),
            s(azure.DIAGNOSTICS, "d2", resourceUri=APIM_ID, **LOGS),
        ],
        "no diagnostic setting sends this resource's logs",
    ),
    (
        "apim-old-tls",
        azure.apim_tls,
        [s(azure.APIM, "apim", customProperties={})],
        [s(azure.APIM, "apim", customProperties=OFF), s(azure.API, "api", protocols=["https"])],
        "Protocols.Tls10",
    ),
    (
        "api-http",
        azure.apim_tls,
        [s(azure.API, "api", protocols=["http", "https"])],
        [s(azure.API, "api", protocols=["https"])],
        "plain HTTP",
    ),
]


@pytest.mark.parametrize(
    ("case", "check", "insecure", "clean", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_rule_catches_insecure_and_passes_clean(
    case: str, check: Any, insecure: list[Subject], clean: list[Subject], words: str
) -> None:
    found = list(check(insecure))
    assert found, case
    assert any(words in message for message, _ in found), found
    assert list(check(clean)) == []


def test_every_rule_has_a_fixture() -> None:
    covered = {c[1] for c in CASES}
    assert {rule.check for rule in azure.RULES} <= covered
