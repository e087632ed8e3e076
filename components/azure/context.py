"""What every Azure part needs: the spec, its settings, the physical names and the tags.

Names are fixed up front (not left to Pulumi's auto-naming) where Azure wants them
globally unique or another part must know them: the gateway names the endpoint's
scoring host, alerts name the deployments, autoscale names the deployment it scales.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from inferstack.components.azure.naming import (
    API_MANAGEMENT,
    APP_INSIGHTS,
    CONTAINER_REGISTRY,
    KEY_VAULT,
    LOG_ANALYTICS,
    ML_ASSET,
    ML_WORKSPACE,
    MONITOR_RULE,
    ONLINE_ENDPOINT,
    RESOURCE_GROUP,
    STORAGE_ACCOUNT,
    AzureNameRule,
    fit,
    global_name,
)
from inferstack.components.azure.rules import azure_options
from inferstack.components.azure.target import AzureOptions, Color
from inferstack.components.spec.models import DeploymentSpec

OTHER: dict[Color, Color] = {"blue": "green", "green": "blue"}
KEY_VAULT_SUFFIX = 6
"""Random characters that end the key vault's, workspace's and API Management's names:
all three are soft-deleted with their names reserved (vault: its retention; workspace:
14 days; API Management: 48 hours), so `pulumi destroy` then `pulumi up` needs new ones."""
SUFFIX_ROOM = KEY_VAULT_SUFFIX + 1


def _room(rule: AzureNameRule) -> AzureNameRule:
    """`rule` with room left for `-` and the random suffix."""
    return replace(rule, max_length=rule.max_length - SUFFIX_ROOM)


@dataclass(frozen=True)
class AzureNames:
    """The physical names of one deployment, derived from the model, project and stack."""

    resource_group: str
    storage_account: str
    key_vault_prefix: str
    """The key vault's name before its random suffix (`-` and KEY_VAULT_SUFFIX characters)."""
    registry: str
    log_analytics: str
    app_insights: str
    workspace_prefix: str
    """The ML workspace's name before its random suffix."""
    endpoint: str
    model: str
    environment: str
    apim_prefix: str
    """API Management's name before its random suffix."""
    monitor_prefix: str

    def rule(self, what: str) -> str:
        """The name of the alert, autoscale setting or action group `what`."""
        return fit(MONITOR_RULE, self.monitor_prefix, what)


def names_for(spec: DeploymentSpec, project: str, stack: str) -> AzureNames:
    """The physical names of `spec`'s deployment in `project`/`stack`."""
    model = spec.model.name
    scope = (project, stack, model)
    vault_room = KEY_VAULT.max_length - KEY_VAULT_SUFFIX - 1
    return AzureNames(
        resource_group=fit(RESOURCE_GROUP, "rg", model, stack),
        storage_account=global_name(STORAGE_ACCOUNT, "st", model, *scope),
        key_vault_prefix=fit(KEY_VAULT, "kv", model)[:vault_room].rstrip("-"),
        registry=global_name(CONTAINER_REGISTRY, "cr", model, *scope),
        log_analytics=fit(LOG_ANALYTICS, "log", model, stack),
        app_insights=fit(APP_INSIGHTS, "appi", model, stack),
        workspace_prefix=fit(_room(ML_WORKSPACE), "mlw", model, stack).rstrip("-_"),
        endpoint=global_name(ONLINE_ENDPOINT, "", model, *scope),
        model=fit(ML_ASSET, model),
        environment=fit(ML_ASSET, model, "runtime"),
        apim_prefix=global_name(_room(API_MANAGEMENT), "apim", model, *scope),
        monitor_prefix=fit(MONITOR_RULE, model, stack),
    )


@dataclass(frozen=True)
class AzureContext:
    """One deployment's spec, settings, names, location and tags."""

    name: str
    """The component's name (children are `{name}-<role>`)."""
    spec: DeploymentSpec
    names: AzureNames
    location: str
    tags: dict[str, str]

    @property
    def options(self) -> AzureOptions:
        """The spec's `targets.azure` settings."""
        return azure_options(self.spec)

    @property
    def live_color(self) -> Color:
        """The deployment that serves model.version."""
        return self.options.live_color

    @property
    def colors(self) -> tuple[Color, ...]:
        """The deployments that exist: the live colour, and the other while previous is set."""
        live = self.live_color
        return (live, OTHER[live]) if self.options.previous else (live,)


def context_for(name: str, spec: DeploymentSpec, project: str, stack: str) -> AzureContext:
    """The context of deployment `name` of `spec`. The tags name no model version: a
    rollout must not change the endpoint's inputs, since azure-native PUTs the endpoint
    whole and its traffic comes back only once the new deployment exists (each
    deployment carries its own version tag)."""
    tags = {
        "inferstack-model": spec.model.name,
        "inferstack-environment": spec.environment,
        **spec.tags,
    }
    return AzureContext(
        name=name,
        spec=spec,
        names=names_for(spec, project, stack),
        location=spec.resolved_region or "eastus",
        tags=tags,
    )


def nested(value: Any) -> Any:
    """A nested resource argument written as a dict (snake_case keys, as azure-native's
    `...ArgsDict` types take them); mypy cannot match a literal's inferred type to those
    TypedDicts' unions, so it is passed on as Any."""
    return value
