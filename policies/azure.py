"""Policy rules for the Azure ML target's resources (azure-native tokens, camelCase inputs)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from inferstack.policies.base import Rule, Subject
from inferstack.policies.base import of as _of

STORAGE = "azure-native:storage:StorageAccount"
CONTAINER = "azure-native:storage:BlobContainer"
VAULT = "azure-native:keyvault:Vault"
REGISTRY = "azure-native:containerregistry:Registry"
NAMED_VALUE = "azure-native:apimanagement:NamedValue"
APIM = "azure-native:apimanagement:ApiManagementService"
API = "azure-native:apimanagement:Api"
API_POLICY = "azure-native:apimanagement:ApiPolicy"
ENDPOINT = "azure-native:machinelearningservices:OnlineEndpoint"
DEPLOYMENT = "azure-native:machinelearningservices:OnlineDeployment"
DIAGNOSTICS = "azure-native:monitor:DiagnosticSetting"
_PROTOCOLS = "Microsoft.WindowsAzure.ApiManagement.Gateway.Security"
INSECURE_PROTOCOLS = tuple(
    f"{_PROTOCOLS}.{side}Protocols.{p}"
    for side in ("", "Backend.")
    for p in ("Tls10", "Tls11", "Ssl30")
)
SECRET_WORDS = ("KEY", "SECRET", "PASSWORD", "TOKEN", "CONNECTION_STRING")


def _props(subject: Subject, key: str) -> Mapping[str, Any]:
    value = subject.props.get(key)
    return value if isinstance(value, Mapping) else {}


def storage_secure(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for account in _of(resources, STORAGE):
        p = account.props
        if p.get("enableHttpsTrafficOnly") is not True:
            yield "storage accepts plain HTTP: set enableHttpsTrafficOnly", account.name
        if p.get("minimumTlsVersion") not in ("TLS1_2", "TLS1_3"):
            yield "storage accepts TLS below 1.2: set minimumTlsVersion TLS1_2", account.name
        if p.get("allowBlobPublicAccess") is not False:
            yield "storage may serve public blobs: set allowBlobPublicAccess false", account.name
        if p.get("allowSharedKeyAccess") is not False:
            yield "storage accepts shared keys: set allowSharedKeyAccess false", account.name
        services = _props(account, "encryption").get("services") or {}
        if not (services.get("blob") or {}).get("enabled"):
            yield "blob encryption is not declared: set encryption.services.blob", account.name
    # A container's own access level (bundles, captured requests) must not open its blobs
    # even in an account whose allowBlobPublicAccess someone turns back on.
    for container in _of(resources, CONTAINER):
        if container.props.get("publicAccess", "None") != "None":
            yield "blob container allows anonymous reads: set publicAccess None", container.name


def key_vault_protected(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for vault in _of(resources, VAULT):
        p = _props(vault, "properties")
        if p.get("enableRbacAuthorization") is not True:
            yield "key vault uses access policies: set enableRbacAuthorization", vault.name
        if p.get("enablePurgeProtection") is not True:
            yield "key vault can be purged: set enablePurgeProtection", vault.name
        if p.get("enableSoftDelete") is False:
            yield "key vault has soft delete off", vault.name


def registry_admin_off(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for registry in _of(resources, REGISTRY):
        if registry.props.get("adminUserEnabled") is not False:
            yield "registry admin user is on (or unset): set adminUserEnabled false", registry.name
        if registry.props.get("anonymousPullEnabled") is True:
            yield "registry allows anonymous pulls", registry.name


def keys_in_key_vault(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for value in _of(resources, NAMED_VALUE):
        if value.props.get("secret") and not _props(value, "keyVault").get("secretIdentifier"):
            yield "secret named value is stored in API Management: back it by key vault", value.name
    for deployment in _of(resources, DEPLOYMENT):
        env = _props(deployment, "properties").get("environmentVariables") or {}
        leaked = sorted(k for k in env if any(w in k.upper() for w in SECRET_WORDS))
        if leaked:
            yield f"secrets in deployment environment variables: {leaked}", deployment.name


def auth_on_every_entry(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for endpoint in _of(resources, ENDPOINT):
        if _props(endpoint, "properties").get("authMode") not in ("Key", "AADToken"):
            yield "online endpoint has no Key or AADToken auth", endpoint.name
    jwt_policies = [
        p for p in _of(resources, API_POLICY) if "<validate-jwt" in str(p.props.get("value", ""))
    ]
    for api in _of(resources, API):
        if api.props.get("subscriptionRequired") is not True and not jwt_policies:
            yield "API needs neither a subscription key nor a validated JWT", api.name


def _watched_name(subject: Subject) -> str | None:
    name = subject.props.get("endpointName") or subject.props.get("serviceName")
    return name.lower() if isinstance(name, str) and name else None


def diagnostics_on(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    """Each endpoint and API Management service has a setting whose resourceUri names it
    (`.../onlineEndpoints/<name>`, `.../service/<name>`). A setting whose target is not
    known yet (an ID before the resource exists) may cover any one of them."""
    watched = _of(resources, (ENDPOINT, APIM))
    settings = [
        s
        for s in _of(resources, DIAGNOSTICS)
        if s.props.get("workspaceId")
        and any(log.get("enabled") for log in s.props.get("logs") or [])
    ]
    uris = [s.props.get("resourceUri") for s in settings]
    known = [u.lower() for u in uris if isinstance(u, str) and u.startswith("/")]
    unknown = len(uris) - len(known)
    uncovered = [
        w
        for w in watched
        if not (name := _watched_name(w)) or not any(u.endswith(f"/{name}") for u in known)
    ]
    if len(uncovered) > unknown:
        for resource in uncovered:
            yield (
                "no diagnostic setting sends this resource's logs to Log Analytics",
                resource.name,
            )


def apim_tls(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for service in _of(resources, APIM):
        custom = _props(service, "customProperties")
        on = [p for p in INSECURE_PROTOCOLS if str(custom.get(p, "True")).lower() != "false"]
        if on:
            on = [p.removeprefix(f"{_PROTOCOLS}.") for p in on]
            yield f"API Management still accepts {sorted(set(on))}: turn them off", service.name
    for api in _of(resources, API):
        if "http" in (api.props.get("protocols") or []):
            yield "API is served over plain HTTP", api.name


RULES: tuple[Rule, ...] = (
    Rule(
        "azure-storage-secure",
        "Storage accounts: HTTPS, TLS 1.2+, encrypted blobs, no public blobs, no shared keys.",
        "mandatory",
        storage_secure,
    ),
    Rule(
        "azure-key-vault-protected",
        "Key vaults use RBAC, soft delete and purge protection.",
        "mandatory",
        key_vault_protected,
    ),
    Rule(
        "azure-registry-admin-off",
        "Container registries have the admin user and anonymous pull off.",
        "mandatory",
        registry_admin_off,
    ),
    Rule(
        "azure-keys-in-key-vault",
        "Secrets live in key vault: named values reference it, deployments carry none.",
        "mandatory",
        keys_in_key_vault,
    ),
    Rule(
        "azure-auth-required",
        "Endpoints use key or Azure AD auth; APIs need a subscription key or a JWT.",
        "mandatory",
        auth_on_every_entry,
    ),
    Rule(
        "azure-diagnostic-settings",
        "Endpoints and API Management send logs to Log Analytics.",
        "mandatory",
        diagnostics_on,
    ),
    Rule(
        "azure-apim-tls",
        "API Management refuses TLS 1.0/1.1 and SSL 3, and APIs are HTTPS only.",
        "mandatory",
        apim_tls,
    ),
)
