"""The gateway's other modes: JWT callers with an IP filter in front of an endpoint that
takes Azure AD tokens; a private endpoint is refused until the network is built. The
API Management policy is well-formed XML in every mode, and each mode declares only the
secrets and grants it uses."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from inferstack.components.azure.endpoint import AzureEndpoint
from inferstack.components.azure.roles import KEY_VAULT_SECRETS_USER, SCORE_ACTION
from inferstack.components.plan.mocks import PlanMocks
from inferstack.components.plan.run import Plan, run_under_mocks
from inferstack.components.spec.config import find_project_root
from inferstack.components.spec.models import DeploymentSpec
from inferstack.policies import Subject, evaluate

IMAGE = "mlplatformacr.azurecr.io/churn:1.0.0"
REGISTRY = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml-platform/"
    "providers/Microsoft.ContainerRegistry/registries/mlplatformacr"
)
ISSUER = "https://login.microsoftonline.com/11111111-1111-1111-1111-111111111111/v2.0"


def plan_of(gateway: dict[str, Any], **azure: Any) -> Plan:
    bundle = find_project_root() / "examples" / "logreg-20f" / "bundle"
    spec = DeploymentSpec.model_validate(
        {
            "target": "azure",
            "environment": "staging",
            "model": {
                "name": "churn",
                "version": "1.0.0",
                "framework": "sklearn",
                "artifact": str(bundle),
            },
            "gateway": gateway,
            "observability": {"notify_emails": ["oncall@example.com"]},
            "targets": {
                "azure": {
                    "image_uri": IMAGE,
                    "image_registry_id": REGISTRY,
                    "apim_sku": "Basic",
                    **azure,
                }
            },
            "tags": {"owner": "ml", "cost-center": "cc-1", "environment": "staging"},
        }
    )
    return run_under_mocks(lambda: AzureEndpoint("churn", spec), mocks=PlanMocks(), stack="gw")


def endpoint_name(plan: Plan) -> str:
    (endpoint,) = plan.of_type("azure-native:machinelearningservices:OnlineEndpoint")
    return str(endpoint.inputs["endpointName"])


def policy(plan: Plan) -> ET.Element:
    (resource,) = plan.of_type("azure-native:apimanagement:ApiPolicy")
    return ET.fromstring(resource.inputs["value"])  # noqa: S314 (our own generated policy)


def roles(plan: Plan) -> set[str]:
    return {
        r.inputs["roleDefinitionId"].rsplit("/", 1)[-1]
        for r in plan.of_type("azure-native:authorization:RoleAssignment")
    }


@pytest.fixture(scope="module")
def jwt_aad() -> Plan:
    return plan_of(
        {
            "auth": "jwt",
            "jwt": {"issuer": ISSUER, "audience": "api://churn"},
            "allowed_cidrs": ["10.0.0.0/8", "203.0.113.7/32"],
        },
        endpoint_auth="aad_token",
    )


def test_jwt_callers_and_aad_backend(jwt_aad: Plan) -> None:
    inbound = policy(jwt_aad).find("inbound")
    assert inbound is not None
    jwt = inbound.find("validate-jwt")
    assert jwt is not None
    assert jwt.find("openid-config").get("url") == f"{ISSUER}/.well-known/openid-configuration"  # type: ignore[union-attr]
    assert [a.text for a in jwt.iter("audience")] == ["api://churn"]
    ranges = [(r.get("from"), r.get("to")) for r in inbound.iter("address-range")]
    assert ranges == [("10.0.0.0", "10.255.255.255"), ("203.0.113.7", "203.0.113.7")]
    identity = inbound.find("authentication-managed-identity")
    assert identity is not None
    assert identity.get("resource") == "https://ml.azure.com"
    assert inbound.find("set-header") is None  # no endpoint key
    assert not jwt_aad.of_type("azure-native:keyvault:Secret")
    assert not jwt_aad.of_type("azure-native:apimanagement:NamedValue")
    assert not jwt_aad.of_type("azure-native:apimanagement:Subscription")
    (role,) = jwt_aad.of_type("azure-native:authorization:RoleDefinition")
    assert role.inputs["permissions"] == [{"actions": [SCORE_ACTION]}]
    (scorer,) = [
        r.inputs
        for r in jwt_aad.of_type("azure-native:authorization:RoleAssignment")
        if r.name.endswith("-apim-scorer")
    ]
    assert scorer["scope"].endswith(f"/onlineEndpoints/{endpoint_name(jwt_aad)}")
    assert scorer["roleDefinitionId"].endswith(role.inputs["roleDefinitionId"])
    assert KEY_VAULT_SECRETS_USER not in roles(jwt_aad)
    (api,) = jwt_aad.of_type("azure-native:apimanagement:Api")
    assert api.inputs["subscriptionRequired"] is False
    assert evaluate(Subject(r.type, r.name, r.inputs, r.urn) for r in jwt_aad.resources) == []


def test_aad_endpoint_stays_public_and_a_private_one_is_refused(jwt_aad: Plan) -> None:
    from pydantic import ValidationError

    (endpoint,) = jwt_aad.of_type("azure-native:machinelearningservices:OnlineEndpoint")
    assert endpoint.inputs["properties"]["authMode"] == "AADToken"
    assert endpoint.inputs["properties"]["publicNetworkAccess"] == "Enabled"
    with pytest.raises(ValidationError, match=r"targets\.azure\.private.*private endpoint"):
        plan_of({"auth": "api_key"}, private=True)


def test_key_mode_policy_is_well_formed_and_limits_per_key() -> None:
    plan = plan_of({"auth": "api_key", "rate_limit_rps": 50, "burst": 120})
    inbound = policy(plan).find("inbound")
    assert inbound is not None
    limit = inbound.find("rate-limit-by-key")
    assert limit is not None
    assert (limit.get("calls"), limit.get("renewal-period")) == ("120", "3")
    assert "context.Subscription?.Key" in (limit.get("counter-key") or "")
    assert inbound.find("quota-by-key") is None  # no quota_per_day
    header = inbound.find("set-header")
    assert header is not None
    assert header.findtext("value") == "Bearer {{endpoint-key}}"
    assert KEY_VAULT_SECRETS_USER in roles(plan)
