"""`GatewayEdge`: what the GKE Gateway needs outside the cluster.

A static address, a Cloud Armor policy (source ranges, preconfigured WAF rules and a
per-client rate limit) that the GCPBackendPolicies attach to every backend, and, with
TLS, a Google-managed Certificate Manager certificate in a map the Gateway names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_gcp as gcp

from inferstack.components.gcp.context import GcpContext
from inferstack.components.gcp.rules import MAX_CIDRS_PER_RULE, gcp_options

RATE_INTERVAL_S = 60
"""Cloud Armor counts requests per client IP over one of its fixed intervals."""
DEFAULT_PRIORITY = 2147483647
WAF_RULES = ("sqli-v33-stable", "xss-v33-stable")


def armor_rules(ctx: GcpContext) -> list[dict[str, Any]]:
    """Cloud Armor rules, first match wins: WAF denies, then throttles (per source-range
    chunk of at most 10 when ranges are set), then the default (deny when ranges are set)."""
    gateway = ctx.spec.gateway
    rules: list[dict[str, Any]] = []
    if gateway.waf:
        for i, waf in enumerate(WAF_RULES):
            rules.append(
                {
                    "priority": 1000 + i,
                    "action": "deny(403)",
                    "description": f"preconfigured WAF {waf}",
                    # Sensitivity 1: the stable, low-false-positive signatures (inference
                    # payloads are JSON full of quotes, dashes and numbers).
                    "match": {
                        "expr": {
                            "expression": f"evaluatePreconfiguredWaf('{waf}', {{'sensitivity': 1}})"
                        }
                    },
                }
            )
    throttle = {
        "conform_action": "allow",
        "exceed_action": "deny(429)",
        "enforce_on_key": "IP",
        "rate_limit_threshold": {
            "count": max(1, round(gateway.rate_limit_rps * RATE_INTERVAL_S)),
            "interval_sec": RATE_INTERVAL_S,
        },
    }
    ranges = list(gateway.allowed_cidrs) or ["*"]
    chunks = [ranges[i : i + MAX_CIDRS_PER_RULE] for i in range(0, len(ranges), MAX_CIDRS_PER_RULE)]
    for i, chunk in enumerate(chunks):
        rules.append(
            {
                "priority": 2000 + i,
                "action": "throttle",
                "description": "per-client rate limit",
                "match": {"versioned_expr": "SRC_IPS_V1", "config": {"src_ip_ranges": chunk}},
                "rate_limit_options": throttle,
            }
        )
    rules.append(
        {
            "priority": DEFAULT_PRIORITY,
            "action": "deny(403)" if gateway.allowed_cidrs else "allow",
            "description": "default",
            "match": {"versioned_expr": "SRC_IPS_V1", "config": {"src_ip_ranges": ["*"]}},
        }
    )
    return rules


@dataclass(frozen=True)
class GatewayEdgeArgs:
    """The deployment's context (gateway settings, domain, gateway class)."""

    ctx: GcpContext


class GatewayEdge(pulumi.ComponentResource):
    """Static address, Cloud Armor policy and (with TLS) the certificate map."""

    address_name: str
    address: pulumi.Output[str]
    security_policy: str
    certificate_map: str | None
    ssl_policy: str | None
    """With TLS: the SSL policy (TLS 1.2+, MODERN) the Gateway's GCPGatewayPolicy names."""
    dns_authorization: pulumi.Output[Any]
    """The CNAME record that proves the domain to Certificate Manager ({} without TLS)."""

    def __init__(
        self, name: str, args: GatewayEdgeArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:gcp:GatewayEdge", name, None, opts)
        ctx = args.ctx
        options = gcp_options(ctx.spec)
        child = pulumi.ResourceOptions(parent=self)
        self.address_name = ctx.compute_name("gateway")
        address = gcp.compute.GlobalAddress(
            f"{name}-address",
            name=self.address_name,
            project=ctx.project,
            labels=ctx.labels,
            opts=child,
        )
        self.address = address.address
        self.security_policy = ctx.compute_name("armor")
        gcp.compute.SecurityPolicy(
            f"{name}-armor",
            name=self.security_policy,
            project=ctx.project,
            type="CLOUD_ARMOR",
            description=f"inferstack {ctx.base}: WAF, source ranges, rate limit",
            rules=cast(Any, armor_rules(ctx)),
            # WAF rules read JSON bodies as JSON, not as one opaque string.
            advanced_options_config={"json_parsing": "STANDARD"},
            labels=ctx.labels,
            opts=child,
        )
        self.certificate_map = None
        self.ssl_policy = None
        self.dns_authorization = pulumi.Output.from_input({})
        if ctx.spec.gateway.tls and options.domain:
            auth = gcp.certificatemanager.DnsAuthorization(
                f"{name}-dns-auth",
                name=ctx.certificate_name("dns"),
                project=ctx.project,
                domain=options.domain,
                labels=ctx.labels,
                opts=child,
            )
            cert = gcp.certificatemanager.Certificate(
                f"{name}-cert",
                name=ctx.certificate_name("cert"),
                project=ctx.project,
                scope="DEFAULT",
                managed={"domains": [options.domain], "dns_authorizations": [auth.id]},
                labels=ctx.labels,
                opts=child,
            )
            self.certificate_map = ctx.certificate_name("map")
            cert_map = gcp.certificatemanager.CertificateMap(
                f"{name}-cert-map",
                name=self.certificate_map,
                project=ctx.project,
                labels=ctx.labels,
                opts=child,
            )
            gcp.certificatemanager.CertificateMapEntry(
                f"{name}-cert-entry",
                name=ctx.certificate_name("entry"),
                project=ctx.project,
                map=cert_map.name,
                hostname=options.domain,
                certificates=[cert.id],
                labels=ctx.labels,
                opts=child,
            )
            self.dns_authorization = auth.dns_resource_records
            # The load balancer's default policy (COMPATIBLE) still accepts TLS 1.0.
            self.ssl_policy = ctx.compute_name("tls")
            gcp.compute.SSLPolicy(
                f"{name}-tls",
                name=self.ssl_policy,
                project=ctx.project,
                profile="MODERN",
                min_tls_version="TLS_1_2",
                opts=child,
            )
        self.register_outputs({"address": self.address})
