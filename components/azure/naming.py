"""Names Azure accepts: one rule per resource type, and one way to fit a name to it.

Every physical name the Azure target sets goes through `fit(rule, ...)`. A name that
already fits comes back unchanged; one that does not is cleaned to the rule's
characters and, if still too long, cut and ended with hex characters of a hash of the
whole name, so it stays unique and the same on every run. Globally unique names
(storage accounts, key vaults, registries, API Management) end with a hash of the
project, stack and model (`global_name`), so two stacks never claim the same one.

Rules follow "Naming rules and restrictions for Azure resources"
(https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules)
and, for Azure ML's own objects, the managed online endpoint YAML reference
(https://learn.microsoft.com/azure/machine-learning/reference-yaml-endpoint-online).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from inferstack.components.errors import DeployError

DIGEST = 8
"""Hex characters of the hash that ends a shortened or globally unique name."""


class NameFitError(DeployError):
    """A name cannot be made to fit its Azure rule."""


@dataclass(frozen=True)
class AzureNameRule:
    """What Azure accepts as the name of one resource type."""

    what: str
    """The resource, for messages."""
    token: str
    """The Pulumi type token of the resource."""
    field: str
    """The input that holds the name (camelCase, as the plan records it)."""
    min_length: int
    max_length: int
    pattern: str
    """A regex the whole name must match (length apart)."""
    invalid: str
    """Runs of characters that `fit` removes or replaces."""
    separator: str = "-"
    """What joins parts and replaces invalid runs ('' where no separator is allowed)."""
    lower: bool = False
    """Lower-case only (fitting lower-cases)."""
    global_scope: bool = False
    """Unique across Azure (a DNS name), not only in its resource group."""
    no_double_separator: bool = False
    """Consecutive hyphens are refused (key vaults)."""

    def problems(self, name: str) -> list[str]:
        """Why Azure would refuse `name` (empty when it fits)."""
        out = []
        if not self.min_length <= len(name) <= self.max_length:
            out.append(f"{len(name)} characters, not {self.min_length}-{self.max_length}")
        if not re.fullmatch(self.pattern, name):
            out.append(f"does not match {self.pattern}")
        if self.lower and name != name.lower():
            out.append("is not lower-case")
        if self.no_double_separator and "--" in name:
            out.append("has consecutive hyphens")
        return out


_ALNUM_HYPHEN_LETTER_FIRST = r"[a-zA-Z]([a-zA-Z0-9-]*[a-zA-Z0-9])?"
_ML = "machinelearningservices"

RESOURCE_GROUP = AzureNameRule(
    "resource group",
    "azure-native:resources:ResourceGroup",
    "resourceGroupName",
    1,
    90,
    r"[\w().-]*[\w()-]",
    r"[^\w().-]+",
)
STORAGE_ACCOUNT = AzureNameRule(
    "storage account",
    "azure-native:storage:StorageAccount",
    "accountName",
    3,
    24,
    r"[a-z0-9]+",
    r"[^a-z0-9]+",
    separator="",
    lower=True,
    global_scope=True,
)
KEY_VAULT = AzureNameRule(
    "key vault",
    "azure-native:keyvault:Vault",
    "vaultName",
    3,
    24,
    _ALNUM_HYPHEN_LETTER_FIRST,
    r"[^a-zA-Z0-9-]+",
    global_scope=True,
    no_double_separator=True,
)
CONTAINER_REGISTRY = AzureNameRule(
    "container registry",
    "azure-native:containerregistry:Registry",
    "registryName",
    5,
    50,
    r"[a-zA-Z0-9]+",
    r"[^a-zA-Z0-9]+",
    separator="",
    global_scope=True,
)
LOG_ANALYTICS = AzureNameRule(
    "Log Analytics workspace",
    "azure-native:operationalinsights:Workspace",
    "workspaceName",
    4,
    63,
    r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?",
    r"[^a-zA-Z0-9-]+",
)
APP_INSIGHTS = AzureNameRule(
    "Application Insights component",
    "azure-native:applicationinsights:Component",
    "resourceName",
    1,
    260,
    r"[^%&\\?/]+",
    r"[%&\\?/]+",
)
ML_WORKSPACE = AzureNameRule(
    "Azure ML workspace",
    f"azure-native:{_ML}:Workspace",
    "workspaceName",
    3,
    33,
    r"[a-zA-Z0-9][a-zA-Z0-9_-]*",
    r"[^a-zA-Z0-9_-]+",
)
ONLINE_ENDPOINT = AzureNameRule(
    "online endpoint (unique per region)",
    f"azure-native:{_ML}:OnlineEndpoint",
    "endpointName",
    3,
    32,
    _ALNUM_HYPHEN_LETTER_FIRST,
    r"[^a-zA-Z0-9-]+",
)
ONLINE_DEPLOYMENT = AzureNameRule(
    "online deployment",
    f"azure-native:{_ML}:OnlineDeployment",
    "deploymentName",
    3,
    32,
    _ALNUM_HYPHEN_LETTER_FIRST,
    r"[^a-zA-Z0-9-]+",
)
ML_ASSET = AzureNameRule(
    "Azure ML model or environment",
    f"azure-native:{_ML}:ModelContainer",
    "name",
    1,
    255,
    r"[a-zA-Z0-9][a-zA-Z0-9_.-]*",
    r"[^a-zA-Z0-9_.-]+",
)
API_MANAGEMENT = AzureNameRule(
    "API Management service",
    "azure-native:apimanagement:ApiManagementService",
    "serviceName",
    1,
    50,
    _ALNUM_HYPHEN_LETTER_FIRST,
    r"[^a-zA-Z0-9-]+",
    global_scope=True,
)
MONITOR_RULE = AzureNameRule(
    "alert, autoscale setting or action group",
    "azure-native:monitor:MetricAlert",
    "ruleName",
    1,
    260,
    r"[^<>*%{}&:\\?+/#|.,]+",
    r"[<>*%{}&:\\?+/#|.,]+",
)
ACTION_GROUP_SHORT = AzureNameRule(
    "action group short name",
    "azure-native:monitor:ActionGroup",
    "groupShortName",
    1,
    12,
    r"[a-zA-Z0-9-]+",
    r"[^a-zA-Z0-9-]+",
)

NAME_RULES: tuple[AzureNameRule, ...] = (
    RESOURCE_GROUP,
    STORAGE_ACCOUNT,
    KEY_VAULT,
    CONTAINER_REGISTRY,
    LOG_ANALYTICS,
    APP_INSIGHTS,
    ML_WORKSPACE,
    ONLINE_ENDPOINT,
    ONLINE_DEPLOYMENT,
    ML_ASSET,
    API_MANAGEMENT,
    MONITOR_RULE,
    ACTION_GROUP_SHORT,
)
"""Every name rule, for the tests that check a planned stack against them."""


def digest(*parts: str, n: int = DIGEST) -> str:
    """`n` hex characters of a hash of `parts`."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def _clean(rule: AzureNameRule, name: str) -> str:
    if rule.lower:
        name = name.lower()
    name = re.sub(rule.invalid, rule.separator, name)
    if rule.separator:
        name = re.sub(f"{re.escape(rule.separator)}+", rule.separator, name)
        name = name.strip(rule.separator)
    return name.lstrip("0123456789-_.") if rule.pattern.startswith("[a-zA-Z]") else name


def _shorten(rule: AzureNameRule, name: str, whole: str) -> str:
    if len(name) <= rule.max_length:
        return name
    keep = rule.max_length - DIGEST - len(rule.separator)
    head = name[:keep].rstrip(rule.separator or "-")
    return f"{head}{rule.separator}{digest(whole)}"


def fit(rule: AzureNameRule, *parts: str) -> str:
    """`parts` joined as a name `rule` accepts: unchanged when it already fits, else
    cleaned and cut with a hash when too long. NameFitError when none exists."""
    joined = rule.separator.join(p for p in parts if p)
    if not rule.problems(joined):
        return joined
    name = _shorten(rule, _clean(rule, joined), joined)
    problems = rule.problems(name)
    if problems:
        raise NameFitError(f"{rule.what} {name!r} from {joined!r}: {'; '.join(problems)}")
    return name


def global_name(rule: AzureNameRule, prefix: str, base: str, *scope: str) -> str:
    """A globally unique name: `prefix`, as much of `base` as fits, and a hash of
    `scope` (project, stack, model) at the end, so the name is the stack's own."""
    tail = digest(*scope)
    room = rule.max_length - len(prefix) - len(tail) - 2 * len(rule.separator)
    cleaned = _clean(rule, base)[: max(room, 0)].rstrip(rule.separator or "-")
    return fit(rule, prefix, cleaned, tail)
