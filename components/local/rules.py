"""The local target's rules: plain HTTP on 127.0.0.1 and no cloud gateway settings."""

from __future__ import annotations

from typing import TYPE_CHECKING

from inferstack.components.spec.rules import SpecRuleError

if TYPE_CHECKING:
    from inferstack.components.spec.models import DeploymentSpec

# Gateway settings that only a cloud gateway enforces; the local target's only gateway is
# the runtime's own API-key check, so setting them there would promise what nothing does.
_CLOUD_GATEWAY_FIELDS = ("rate_limit_rps", "burst", "quota_per_day", "allowed_cidrs", "waf", "jwt")


def _local(spec: DeploymentSpec) -> None:
    if spec.gateway.tls:
        raise SpecRuleError(
            "gateway.tls", "the local target serves plain HTTP on 127.0.0.1; set tls: false"
        )
    for field in _CLOUD_GATEWAY_FIELDS:
        if field in spec.gateway.model_fields_set:
            raise SpecRuleError(
                f"gateway.{field}",
                "not enforced by the local target (its only gateway is the runtime's API-key "
                "check); remove it from the local stack",
            )


LOCAL_RULES = (_local,)
