"""The Azure ML target's lifecycle: a managed online endpoint's deployments, its traffic,
the registered model's versions and the fired rollback alerts, over ARM REST.

Names are the Azure target's own (`azure.context.names_for`): the endpoint, the model
asset, the workspace (its prefix plus the random suffix the stack gave it, found by
listing the resource group, or `targets.azure.workspace_id`), and the alert rules
`<model>-<stack>-p99-latency` (a metric alert on the endpoint) and `<model>-<stack>-5xx`
(a log alert on the endpoint's console log): the latency and error signals a rollout
is judged by. The variants are the deployments, `blue` and `green`; each serves the
version in its `INFERSTACK_MODEL_VERSION`.

Traffic moves by updating the endpoint's `traffic` (mirror traffic kept as it is), as
`az ml online-endpoint update --traffic` does: whole percents summing to 100, mirror
traffic only to a deployment without live traffic (`azure.traffic.check_split`, checked
before any call). Azure ML runs one operation at a time on an endpoint, so each update
waits for `Succeeded` first, then until the endpoint reports the new split.

The stack config says the split in the target's own terms: `targets.azure.traffic_percent`
is `live_color`'s share while `previous` holds the other colour (`AzureStackFile`).
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import Any

from inferstack.components.azure.arm import (
    ARM,
    AzureRequestError,
    TokenCredential,
    arm_json,
    default_credential,
)
from inferstack.components.azure.context import OTHER, AzureNames, names_for
from inferstack.components.azure.rules import azure_options
from inferstack.components.azure.traffic import API_VERSION, check_split
from inferstack.components.errors import DeployError
from inferstack.components.lifecycle.percents import whole_percents
from inferstack.components.lifecycle.seam import (
    LifecycleError,
    VersionInfo,
    deployed_versions,
)
from inferstack.components.lifecycle.stackfile import Key, Scalar, StackFile, StackFileError
from inferstack.components.spec.config import load_spec
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.contract import Env

ALERTS_API_VERSION = "2019-05-05-preview"
"""Alerts Management's `alerts` (fired alert instances)."""
ML_PROVIDER = "Microsoft.MachineLearningServices"
ROLLBACK_RULES = (("metricAlerts", "p99-latency"), ("scheduledQueryRules", "5xx"))
"""The alert rules (their type and the role `AzureNames.rule` names them by) whose firing
stops a promote."""
WAIT_S = 1800.0
SUBSCRIPTION_KEYS = ("azure-native:subscriptionId",)
SUBSCRIPTION_ENV = ("AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID")


def subscription_of(spec: DeploymentSpec, config: dict[str, object], env: dict[str, str]) -> str:
    """The subscription: `targets.azure.workspace_id`'s, the stack's azure-native config,
    or AZURE_SUBSCRIPTION_ID / ARM_SUBSCRIPTION_ID ("" when none is set)."""
    workspace_id = azure_options(spec).workspace_id
    if workspace_id:
        return workspace_id.split("/")[2]
    found = [str(config[k]) for k in SUBSCRIPTION_KEYS if config.get(k)]
    found += [env[k] for k in SUBSCRIPTION_ENV if env.get(k)]
    return found[0] if found else ""


class AzureLifecycle:
    """An Azure ML managed online endpoint's versions and traffic, for one stack."""

    target = "azure"
    shifts_traffic = True

    def __init__(
        self,
        spec: DeploymentSpec,
        project: str,
        stack: str,
        subscription: str,
        *,
        arm: str = ARM,
        credential: TokenCredential | None = None,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 15.0,
        wait_s: float = WAIT_S,
    ) -> None:
        self.spec = spec
        self.names: AzureNames = names_for(spec, project, stack)
        self._subscription = subscription
        self.arm = arm.rstrip("/")
        self._credential = credential
        self.sleep = sleep
        self.poll_s = poll_s
        self.wait_s = wait_s
        workspace_id = azure_options(spec).workspace_id
        self.resource_group = workspace_id.split("/")[4] if workspace_id else None
        self.workspace = workspace_id.rsplit("/", 1)[-1] if workspace_id else None
        if self.resource_group is None:
            self.resource_group = self.names.resource_group

    @property
    def credential(self) -> TokenCredential:
        """The caller's Azure AD identity (azure-identity), created on first use."""
        if self._credential is None:
            try:
                self._credential = default_credential()
            except DeployError as err:
                raise LifecycleError(str(err)) from err
        return self._credential

    @property
    def subscription(self) -> str:
        """The Azure subscription (checked when first needed, so that opening the stack
        works without one, e.g. for ab-report)."""
        if not self._subscription:
            raise LifecycleError(
                "no Azure subscription: set azure-native:subscriptionId in the stack config "
                "or AZURE_SUBSCRIPTION_ID in the environment"
            )
        return self._subscription

    # ARM paths and calls

    def _group_path(self) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}"

    def _get(self, path: str, api_version: str = API_VERSION, **query: str) -> dict[str, Any]:
        url = f"{self.arm}{path}?" + urllib.parse.urlencode({"api-version": api_version, **query})
        return self._call("GET", url)

    def _call(self, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            return arm_json(self.credential, method, url, body)
        except AzureRequestError as err:
            raise LifecycleError(str(err)) from err
        except OSError as err:  # connection refused, DNS, timeout
            raise LifecycleError(f"{method} {url}: {err}") from err

    def _list(self, path: str, api_version: str = API_VERSION, **query: str) -> list[Any]:
        """Every item of an ARM list, following nextLink."""
        page = self._get(path, api_version, **query)
        items = list(page.get("value", []))
        while page.get("nextLink"):
            page = self._call("GET", str(page["nextLink"]))
            items += page.get("value", [])
        return items

    def _workspace_path(self) -> str:
        if self.workspace is None:
            prefix = f"{self.names.workspace_prefix}-"
            try:
                found = self._list(f"{self._group_path()}/providers/{ML_PROVIDER}/workspaces")
            except LifecycleError as err:
                if "HTTP 404" not in str(err):
                    raise
                found = []
            matches = sorted(w["name"] for w in found if str(w.get("name", "")).startswith(prefix))
            if len(matches) != 1:
                what = "none" if not matches else ", ".join(matches)
                raise LifecycleError(
                    f"Azure ML workspace {prefix}<suffix> in resource group "
                    f"{self.resource_group}: found {what} (deploy the stack with `pulumi up` "
                    "first, or set targets.azure.workspace_id)"
                )
            self.workspace = matches[0]
        return f"{self._group_path()}/providers/{ML_PROVIDER}/workspaces/{self.workspace}"

    def _endpoint_path(self) -> str:
        return f"{self._workspace_path()}/onlineEndpoints/{self.names.endpoint}"

    def _endpoint(self) -> dict[str, Any]:
        try:
            return self._get(self._endpoint_path())
        except LifecycleError as err:
            if "HTTP 404" in str(err):
                raise LifecycleError(
                    f"Azure ML online endpoint {self.names.endpoint!r} does not exist in "
                    f"workspace {self.workspace} (deploy the stack with `pulumi up` first)"
                ) from err
            raise

    def _deployments(self) -> list[dict[str, Any]]:
        return self._list(f"{self._endpoint_path()}/deployments")

    # The seam

    def variants(self) -> dict[str, str]:
        """Deployment -> the version it serves (INFERSTACK_MODEL_VERSION, else its
        `inferstack-version` tag)."""
        out = {}
        for deployment in self._deployments():
            env = deployment.get("properties", {}).get("environmentVariables") or {}
            tags = deployment.get("tags") or {}
            out[deployment["name"]] = str(
                env.get(Env.MODEL_VERSION) or tags.get("inferstack-version") or "unknown"
            )
        return out

    def weights(self) -> dict[str, float]:
        """Deployment -> its percent of the endpoint's live traffic (0 when not named)."""
        traffic = self._endpoint().get("properties", {}).get("traffic") or {}
        names = [d["name"] for d in self._deployments()]
        return {name: float(traffic.get(name, 0)) for name in names}

    def _registered(self) -> list[dict[str, Any]]:
        path = f"{self._workspace_path()}/models/{self.names.model}/versions"
        try:
            return self._list(path)
        except LifecycleError as err:
            if "HTTP 404" in str(err):
                return []
            raise

    def versions(self) -> list[VersionInfo]:
        """The deployments with their traffic shares, then the model's other versions."""
        served = self.variants()
        out = deployed_versions(served, self.weights(), f"endpoint {self.names.endpoint}")
        deployed = set(served.values())
        for item in self._registered():
            version = str(item.get("name", "?"))
            if version in deployed:
                continue
            properties = item.get("properties") or {}
            out.append(
                VersionInfo(
                    version,
                    "registered",
                    source=f"Azure ML model {self.names.model}",
                    detail=str(properties.get("description") or item.get("id", "")),
                )
            )
        return out

    def _wait(self, want: dict[str, int] | None = None) -> dict[str, Any]:
        """The endpoint once its provisioning state is Succeeded (and its traffic `want`)."""
        deadline = time.monotonic() + self.wait_s
        while True:
            endpoint = self._endpoint()
            properties = endpoint.get("properties", {})
            state = properties.get("provisioningState")
            traffic = {k: int(v) for k, v in (properties.get("traffic") or {}).items() if v}
            if state == "Succeeded" and (want is None or traffic == want):
                return endpoint
            if state in {"Failed", "Canceled"}:
                raise LifecycleError(f"endpoint {self.names.endpoint} is {state}")
            if time.monotonic() > deadline:
                raise LifecycleError(
                    f"endpoint {self.names.endpoint} still {state} (traffic {traffic}) after "
                    f"{self.wait_s:.0f} s"
                )
            self.sleep(self.poll_s)

    def set_weights(self, weights: dict[str, float]) -> None:
        """Update the endpoint's traffic to `weights` in whole percents, mirror traffic as
        it is; refused before any change when Azure ML would refuse it."""
        percents = whole_percents(weights)
        endpoint = self._wait()
        properties = endpoint.setdefault("properties", {})
        deployments = self.variants()
        unknown = sorted(set(percents) - set(deployments))
        if unknown:
            raise LifecycleError(
                f"endpoint {self.names.endpoint} has no deployment {', '.join(unknown)} "
                f"(deployments: {', '.join(deployments) or 'none'})"
            )
        mirror = {k: int(v) for k, v in (properties.get("mirrorTraffic") or {}).items() if v}
        try:
            check_split(percents, mirror)
        except DeployError as err:
            raise LifecycleError(
                f"Azure ML would refuse this split: {err} (mirror traffic is kept as the stack "
                "set it: set targets.azure.mirror_percent: 0 and run `pulumi up` first)"
            ) from err
        live = {k: v for k, v in percents.items() if v}
        current = {k: int(v) for k, v in (properties.get("traffic") or {}).items() if v}
        if live == current:
            return
        properties["traffic"] = percents
        properties["mirrorTraffic"] = mirror
        # The GET answer carries read-only fields that a PUT must not send back.
        for read_only in ("scoringUri", "swaggerUri", "provisioningState"):
            properties.pop(read_only, None)
        body: dict[str, Any] = {
            k: endpoint[k]
            for k in ("location", "tags", "identity", "kind", "properties")
            if k in endpoint
        }
        url = f"{self.arm}{self._endpoint_path()}?api-version={API_VERSION}"
        self._call("PUT", url, body)
        self._wait(live)

    def rule_ids(self) -> dict[str, str]:
        """Alert rule name -> its resource ID, for the rollback rules."""
        base = f"{self._group_path()}/providers/Microsoft.Insights"
        return {
            self.names.rule(role): f"{base}/{kind}/{self.names.rule(role)}"
            for kind, role in ROLLBACK_RULES
        }

    def firing_alarms(self) -> list[str]:
        """The rollback rules with a fired alert now (Alerts Management, monitorCondition
        Fired), by rule name."""
        firing = []
        path = f"/subscriptions/{self.subscription}/providers/Microsoft.AlertsManagement/alerts"
        for name, rule_id in self.rule_ids().items():
            alerts = self._list(
                path, ALERTS_API_VERSION, alertRule=rule_id, monitorCondition="Fired"
            )
            for alert in alerts:
                essentials = (alert.get("properties") or {}).get("essentials") or {}
                if (
                    str(essentials.get("alertRule", "")).lower() == rule_id.lower()
                    and essentials.get("monitorCondition") == "Fired"
                ):
                    firing.append(name)
                    break
        return firing


def variant_artifacts(spec: DeploymentSpec) -> dict[str, str]:
    """Deployment -> the bundle the stack config gives it: live_color the model's,
    the other colour `previous.artifact`."""
    options = azure_options(spec)
    out = {options.live_color: spec.model.artifact}
    if options.previous:
        out[OTHER[options.live_color]] = options.previous.artifact
    return out


class AzureStackFile(StackFile):
    """A stack config whose split is `targets.azure.traffic_percent` (live_color's share
    while `previous` holds the other colour)."""

    def set_weights(self, weights: dict[str, float], primary: str = "primary") -> None:
        """Write the endpoint's split: live_color's percent as `traffic_percent`."""
        options = azure_options(load_spec(self.deployment, self.path.name))
        percents = whole_percents(weights)
        live = options.live_color
        if options.previous is None:
            elsewhere = [k for k, v in percents.items() if k != live and v]
            if elsewhere:
                raise StackFileError(
                    f"{self.path.name}: deployment {elsewhere[0]} serves traffic but the "
                    "config has no targets.azure.previous for it"
                )
            return
        self.set(("targets", "azure", "traffic_percent"), percents.get(live, 0))

    def append(self, keys: Sequence[Key], item: dict[str, Scalar]) -> None:
        """Refused: an Azure ML rollout stages a version on the idle colour, not as a variant."""
        raise StackFileError(
            f"{self.path.name}: on Azure ML a new version goes to the idle colour: set "
            "model.version/artifact and targets.azure.image_uri to it, live_color to the "
            "other colour, targets.azure.previous to the serving version and "
            "traffic_percent: 0, run `pulumi up`, then promote (docs/lifecycle.md)"
        )
