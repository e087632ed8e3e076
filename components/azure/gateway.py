"""`ApiGateway`: API Management in front of the endpoint's scoring URI.

Callers present a subscription key (gateway.auth api_key) or a JWT (jwt); the policy
limits rate (burst over a window that gives rate_limit_rps) and daily quota per key,
filters source CIDRs, and calls the endpoint with its key, which API Management reads
as a named value backed by the key vault (its identity holds Key Vault Secrets User),
or with its own Azure AD token when the endpoint uses aad_token auth. TLS 1.0/1.1 and
SSL 3 are off on both sides ("Manage protocols and ciphers in Azure API Management").
"""

from __future__ import annotations

import ipaddress
import math
import uuid
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pulumi
import pulumi_azure_native as azure_native

from inferstack.components.azure.context import AzureContext
from inferstack.components.azure.propagation import RolePropagation
from inferstack.components.azure.roles import KEY_VAULT_SECRETS_USER, SCORE_ACTION, assign
from inferstack.components.azure.workspace import name_suffix
from inferstack.runtime.contract import Routes

APIM = azure_native.apimanagement
API_ID = "inference"
KEY_NAMED_VALUE = "endpoint-key"
_PROTOCOLS = "Microsoft.WindowsAzure.ApiManagement.Gateway.Security"
INSECURE_PROTOCOLS_OFF = {
    f"{_PROTOCOLS}.Protocols.Tls10": "False",
    f"{_PROTOCOLS}.Protocols.Tls11": "False",
    f"{_PROTOCOLS}.Protocols.Ssl30": "False",
    f"{_PROTOCOLS}.Backend.Protocols.Tls10": "False",
    f"{_PROTOCOLS}.Backend.Protocols.Tls11": "False",
    f"{_PROTOCOLS}.Backend.Protocols.Ssl30": "False",
}
ML_AUDIENCE = "https://ml.azure.com"


def policy_xml(ctx: AzureContext) -> str:
    """The API's policy: caller auth, CIDR filter, rate limit, quota, backend auth."""
    gateway = ctx.spec.gateway
    inbound = ["<base />"]
    if gateway.allowed_cidrs:
        ranges = []
        for cidr in gateway.allowed_cidrs:
            net = ipaddress.ip_network(cidr, strict=False)
            ranges.append(f'<address-range from="{net[0]}" to="{net[-1]}" />')
        inbound.append(f'<ip-filter action="allow">{"".join(ranges)}</ip-filter>')
    if gateway.auth == "jwt" and gateway.jwt:
        config = f"{gateway.jwt.issuer.rstrip('/')}/.well-known/openid-configuration"
        inbound.append(
            '<validate-jwt header-name="Authorization" failed-validation-httpcode="401">'
            f"<openid-config url={quoteattr(config)} />"
            f"<audiences><audience>{escape(gateway.jwt.audience)}</audience></audiences>"
            f"<issuers><issuer>{escape(gateway.jwt.issuer)}</issuer></issuers>"
            "</validate-jwt>"
        )
    key = (
        "@(context.Subscription?.Key ?? context.Request.IpAddress)"
        if gateway.auth == "api_key"
        else "@(context.Request.IpAddress)"
    )
    window = max(1, math.ceil(gateway.burst / gateway.rate_limit_rps))
    inbound.append(
        f'<rate-limit-by-key calls="{gateway.burst}" renewal-period="{window}" '
        f'counter-key="{key}" />'
    )
    if gateway.quota_per_day:
        inbound.append(
            f'<quota-by-key calls="{gateway.quota_per_day}" renewal-period="86400" '
            f'counter-key="{key}" />'
        )
    inbound.append(f'<set-backend-service backend-id="{API_ID}" />')
    if ctx.options.endpoint_auth == "key":
        inbound.append(
            '<set-header name="Authorization" exists-action="override">'
            f"<value>Bearer {{{{{KEY_NAMED_VALUE}}}}}</value></set-header>"
        )
    else:
        inbound.append(f'<authentication-managed-identity resource="{ML_AUDIENCE}" />')
    return (
        "<policies><inbound>"
        + "".join(inbound)
        + "</inbound><backend><base /></backend><outbound><base /></outbound>"
        "<on-error><base /></on-error></policies>"
    )


@dataclass(frozen=True)
class ApiGatewayArgs:
    """The endpoint to front and where its key is kept."""

    ctx: AzureContext
    subscription_id: pulumi.Input[str]
    resource_group_name: pulumi.Input[str]
    workspace_name: pulumi.Input[str]
    workspace_id: pulumi.Input[str]
    endpoint_name: pulumi.Input[str]
    scoring_uri: pulumi.Input[str]
    key_vault_id: pulumi.Input[str]
    key_vault_name: pulumi.Input[str]
    key_vault_uri: pulumi.Input[str]
    endpoint_ready: tuple[pulumi.Resource, ...] = ()
    """What must exist before the key is read (the endpoint's traffic)."""


class ApiGateway(pulumi.ComponentResource):
    """API Management service, API, operation, policy, backend, key and subscription."""

    url: pulumi.Output[str]
    """The API's base URL (POST {url}/score)."""
    api_key: pulumi.Output[str]
    """The subscription's primary key, a secret ("" unless auth is api_key)."""
    service_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: ApiGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:azure:ApiGateway", name, None, opts)
        ctx = args.ctx
        options = ctx.options
        child = pulumi.ResourceOptions(parent=self)
        publisher = options.publisher_email or ctx.spec.observability.notify_emails[0]
        service = APIM.ApiManagementService(
            f"{name}-apim",
            # Soft-deleted for 48 hours with its name reserved: a random suffix, kept in
            # state, lets `pulumi destroy` then `pulumi up` create a new one.
            service_name=pulumi.Output.concat(
                ctx.names.apim_prefix, "-", name_suffix(f"{name}-apim", child).result
            ),
            resource_group_name=args.resource_group_name,
            location=ctx.location,
            sku={"name": options.apim_sku, "capacity": options.apim_capacity},
            publisher_email=publisher,
            publisher_name=f"inferstack {ctx.spec.model.name}",
            identity={"type": "SystemAssigned"},
            custom_properties=INSECURE_PROTOCOLS_OFF,
            tags=ctx.tags,
            opts=child,
        )
        self.service_id = service.id
        where: dict[str, Any] = {
            "resource_group_name": args.resource_group_name,
            "service_name": service.name,
        }
        principal = service.identity.apply(lambda i: i.principal_id if i else "")
        backend_auth = self._backend_auth(name, args, principal, where)
        APIM.Backend(
            f"{name}-backend",
            backend_id=API_ID,
            url=pulumi.Output.from_input(args.scoring_uri).apply(
                lambda uri: uri.removesuffix(Routes.SCORE)
            ),
            protocol="http",
            tls={"validate_certificate_chain": True, "validate_certificate_name": True},
            description="The Azure ML online endpoint",
            opts=child,
            **where,
        )
        api = APIM.Api(
            f"{name}-api",
            api_id=API_ID,
            path=ctx.spec.model.name,
            display_name=f"{ctx.spec.model.name} inference",
            protocols=["https"] if ctx.spec.gateway.tls else ["http", "https"],
            subscription_required=ctx.spec.gateway.auth == "api_key",
            subscription_key_parameter_names={
                "header": "Ocp-Apim-Subscription-Key",
                "query": "subscription-key",
            },
            opts=child,
            **where,
        )
        APIM.ApiOperation(
            f"{name}-score",
            api_id=api.name,
            operation_id="score",
            display_name="Score",
            method="POST",
            url_template=Routes.SCORE,
            opts=child,
            **where,
        )
        APIM.ApiPolicy(
            f"{name}-policy",
            api_id=api.name,
            policy_id="policy",
            format="xml",
            value=policy_xml(ctx),
            opts=pulumi.ResourceOptions(parent=self, depends_on=backend_auth),
            **where,
        )
        self.url = pulumi.Output.concat(service.gateway_url, "/", ctx.spec.model.name)
        self.api_key = pulumi.Output.secret("")
        if ctx.spec.gateway.auth == "api_key":
            subscription = APIM.Subscription(
                f"{name}-subscription",
                sid=f"{ctx.spec.model.name}-callers",
                display_name=f"{ctx.spec.model.name} callers",
                scope=api.id,
                state=APIM.SubscriptionState.ACTIVE,
                opts=child,
                **where,
            )
            secrets = APIM.list_subscription_secrets_output(
                resource_group_name=args.resource_group_name,
                service_name=service.name,
                sid=subscription.name,
            )
            self.api_key = pulumi.Output.secret(secrets.primary_key.apply(lambda k: k or ""))
        self.register_outputs({"url": self.url, "api_key": self.api_key})

    def _backend_auth(
        self,
        name: str,
        args: ApiGatewayArgs,
        principal: pulumi.Output[str],
        where: dict[str, Any],
    ) -> list[pulumi.Resource]:
        """Key auth: the endpoint key as a key vault secret and a named value backed by it.
        AAD token auth: API Management's identity may score this endpoint, nothing else."""
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self)
        if ctx.options.endpoint_auth == "aad_token":
            group_scope = pulumi.Output.concat(
                "/subscriptions/",
                args.subscription_id,
                "/resourceGroups/",
                args.resource_group_name,
            )
            role_guid = str(
                uuid.uuid5(uuid.NAMESPACE_URL, f"inferstack/{ctx.names.endpoint}/scorer")
            )
            role = azure_native.authorization.RoleDefinition(
                f"{name}-scorer-role",
                role_definition_id=role_guid,
                scope=group_scope,
                # Role names are unique in the tenant: the endpoint's name is the stack's.
                role_name=f"inferstack scorer {ctx.names.endpoint}",
                description=f"Score the online endpoint {ctx.names.endpoint} only.",
                role_type="CustomRole",
                permissions=[{"actions": [SCORE_ACTION]}],
                assignable_scopes=[group_scope],
                opts=child,
            )
            scorer = assign(
                f"{name}-apim-scorer",
                scope=pulumi.Output.concat(
                    args.workspace_id, "/onlineEndpoints/", args.endpoint_name
                ),
                role=role_guid,
                role_definition_id=role.id,
                principal_id=principal,
                subscription_id=args.subscription_id,
                service_principal=True,
                opts=child,
            )
            return [RolePropagation(f"{name}-scorer-propagation", [scorer], opts=child)]
        keys = azure_native.machinelearningservices.list_online_endpoint_keys_output(
            resource_group_name=args.resource_group_name,
            workspace_name=args.workspace_name,
            endpoint_name=args.endpoint_name,
            opts=pulumi.InvokeOutputOptions(depends_on=list(args.endpoint_ready)),
        )
        secret = azure_native.keyvault.Secret(
            f"{name}-endpoint-key",
            vault_name=args.key_vault_name,
            secret_name=KEY_NAMED_VALUE,
            resource_group_name=args.resource_group_name,
            properties={
                "value": pulumi.Output.secret(keys.primary_key.apply(lambda k: k or "")),
                "content_type": "Azure ML endpoint key",
            },
            tags=ctx.tags,
            opts=child,
        )
        reader = assign(
            f"{name}-apim-secrets",
            scope=args.key_vault_id,
            role=KEY_VAULT_SECRETS_USER,
            principal_id=principal,
            subscription_id=args.subscription_id,
            service_principal=True,
            opts=child,
        )
        named = APIM.NamedValue(
            f"{name}-key-value",
            named_value_id=KEY_NAMED_VALUE,
            display_name=KEY_NAMED_VALUE,
            secret=True,
            # The secret's versioned URI: a new endpoint key is a new secret version, which
            # updates the named value in the same `pulumi up` (a versionless URI is
            # re-read only every four hours, while callers get 401). The secret's
            # properties are secret as a whole (they hold the value); the URI is not.
            key_vault={
                "secret_identifier": pulumi.Output.unsecret(
                    secret.properties.apply(lambda p: p.secret_uri_with_version or "")
                )
            },
            # Named-value tags are filter labels (strings), not Azure tags: the keys of
            # the stack's tags (the cost-tag guardrail reads keys).
            tags=sorted(ctx.tags),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[RolePropagation(f"{name}-secrets-propagation", [reader], opts=child)],
            ),
            **where,
        )
        return [named]
