"""The GKE target's lifecycle: Deployments per track, the HTTPRoute's backend weights and
the rollback alert conditions, through the Kubernetes API and managed Prometheus.

Names are the GKE target's own (`gcp.context.GcpContext`): the namespace fitted from
`<model>-<stack>`, one Service per track (`stable`, `canary` in a canary rollout, or
each A/B variant) and the HTTPRoute named after the model. A variant is a track; the
version it serves is its Deployments' `INFERSTACK_MODEL_VERSION`. Versions come from
the cluster and the stack config only: Artifact Registry tags are not read.

Traffic moves by replacing the HTTPRoute's backend weights (whole percents, as the
stack writes them) with its resourceVersion, so a concurrent change fails instead of
being overwritten; then it waits until every parent Gateway reports the route
`Accepted` and `ResolvedRefs` for the new generation.

The rollback signals are the p99-latency and 5xx-rate conditions of the alert policies
`gcp/observability.py` creates: PromQL, evaluated here through managed Prometheus's
query API (the same queries, so a condition that is true now is "firing"; the policy
itself waits for it to hold 300 s before it opens an incident, so a promote stops
sooner than the alert e-mails).

The Kubernetes client is configured from the user's kubeconfig (KUBECONFIG or
~/.kube/config, its current context: `gcloud container clusters get-credentials`).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

from inferstack.components.gcp.context import GcpContext
from inferstack.components.gcp.rules import gcp_options, region_of
from inferstack.components.gcp.workloads import SERVICE_PORT
from inferstack.components.lifecycle.percents import whole_percents
from inferstack.components.lifecycle.seam import (
    LifecycleError,
    VersionInfo,
    deployed_versions,
    shares,
)
from inferstack.components.lifecycle.stackfile import StackFile, StackFileError
from inferstack.components.spec.config import load_spec
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.contract import Env

ROUTES = ("gateway.networking.k8s.io", "v1", "httproutes")
TRACK_LABEL = "inferstack.dev/track"
ROLLBACK_CONDITIONS = ("p99 latency", "5xx rate")
"""The alert conditions (display names in gcp/observability.py) that stop a promote."""
MANAGED_PROMETHEUS = (
    "https://monitoring.googleapis.com/v1/projects/{project}/location/global/prometheus"
)
ARTIFACT_REGISTRY = "https://artifactregistry.googleapis.com"
READ_SCOPE = "https://www.googleapis.com/auth/cloud-platform.read-only"
MAX_WEIGHT = 1_000_000
"""Gateway API's bound on a backendRef weight."""
WAIT_S = 600.0


def context_of(spec: DeploymentSpec, stack: str, project: str = "", region: str = "") -> GcpContext:
    """The GKE target's naming context of `spec` in `stack` (zones unused)."""
    return GcpContext(
        spec=spec, project=project, region=region, zones=(), base=f"{spec.model.name}-{stack}"
    )


def is_canary(spec: DeploymentSpec) -> bool:
    """Whether the stack runs a canary rollout (stable_version beside model.version)."""
    return spec.rollout.strategy == "canary" and gcp_options(spec).stable_version is not None


def google_token() -> str:
    """An access token of the user's Google application default credentials."""
    try:
        import google.auth
        import google.auth.exceptions
        import google.auth.transport.requests
    except ModuleNotFoundError as err:
        raise LifecycleError(
            "reading GKE alerts needs google-auth: pip install google-auth"
        ) from err
    try:
        credentials, _ = google.auth.default(scopes=[READ_SCOPE])
        credentials.refresh(google.auth.transport.requests.Request())
    except google.auth.exceptions.GoogleAuthError as err:
        raise LifecycleError(
            f"no Google credentials ({err}): run `gcloud auth application-default login`"
        ) from err
    return str(credentials.token)


def kube_client(credentials_hint: str = "CLUSTER --location LOCATION") -> Any:
    """A Kubernetes API client from the user's kubeconfig and current context."""
    try:
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException
    except ModuleNotFoundError as err:
        raise LifecycleError(
            "the GKE lifecycle needs the kubernetes client: pip install 'inferstack[lifecycle]'"
        ) from err
    try:
        # Read KUBECONFIG now: the client reads it once, when first imported.
        return config.new_client_from_config(config_file=os.environ.get("KUBECONFIG") or None)
    except (ConfigException, OSError) as err:
        raise LifecycleError(
            f"no kubeconfig for the cluster ({err}): run `gcloud container clusters "
            f"get-credentials {credentials_hint}` first"
        ) from err


class GkeLifecycle:
    """A GKE deployment's tracks, route weights and rollback conditions, for one stack."""

    target = "gcp"
    shifts_traffic = True

    def __init__(
        self,
        spec: DeploymentSpec,
        stack: str,
        project: str,
        *,
        api_client: Any = None,
        prometheus: str | None = None,
        registry: str = ARTIFACT_REGISTRY,
        token: Callable[[], str] = google_token,
        sleep: Callable[[float], None] = time.sleep,
        poll_s: float = 5.0,
        wait_s: float = WAIT_S,
    ) -> None:
        self.spec = spec
        self.ctx = context_of(spec, stack, project, region_of(spec))
        self.namespace = self.ctx.namespace
        self.route = spec.model.name
        self._api_client = api_client
        self.prometheus = (prometheus or MANAGED_PROMETHEUS.format(project=project)).rstrip("/")
        self.registry = registry.rstrip("/")
        self.token = token
        self.sleep = sleep
        self.poll_s = poll_s
        self.wait_s = wait_s

    def _api(self, kind: str) -> Any:
        if self._api_client is None:
            ctx = self.ctx
            hint = f"{ctx.cluster_name} --location {ctx.cluster_location}"
            if ctx.project:
                hint += f" --project {ctx.project}"
            self._api_client = kube_client(hint)  # says how to install the client if missing
        from kubernetes import client

        return getattr(client, kind)(self._api_client)

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            return fn(*args, **kwargs)
        except ApiException as err:
            if err.status == 404:
                raise LifecycleError(
                    f"{what}: not found in namespace {self.namespace} (is the kubeconfig's "
                    "current context the stack's cluster, and did `pulumi up` run?)"
                ) from err
            raise LifecycleError(f"{what}: HTTP {err.status} {err.reason}: {err.body}") from err
        except HTTPError as err:
            raise LifecycleError(f"{what}: {err}") from err

    def _deployments(self) -> list[Any]:
        found = self._call(
            f"Deployments of {self.spec.model.name}",
            self._api("AppsV1Api").list_namespaced_deployment,
            self.namespace,
            label_selector=f"app.kubernetes.io/name={self.spec.model.name}",
        )
        return list(found.items)

    def _get_route(self) -> dict[str, Any]:
        group, version, plural = ROUTES
        route: dict[str, Any] = self._call(
            f"HTTPRoute {self.route}",
            self._api("CustomObjectsApi").get_namespaced_custom_object,
            group,
            version,
            self.namespace,
            plural,
            self.route,
        )
        return route

    def variants(self) -> dict[str, str]:
        """Track -> the version its Deployments serve (versions joined by ', ' while a
        track's Deployments disagree, as during their own rolling update)."""
        out: dict[str, list[str]] = {}
        for deployment in self._deployments():
            track = (deployment.metadata.labels or {}).get(TRACK_LABEL)
            if not track:
                continue
            for container in deployment.spec.template.spec.containers:
                for var in container.env or []:
                    if var.name == Env.MODEL_VERSION and var.value:
                        versions = out.setdefault(track, [])
                        if var.value not in versions:
                            versions.append(var.value)
        return {track: ", ".join(versions) for track, versions in out.items()}

    def _backends(self, route: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            ref
            for rule in route.get("spec", {}).get("rules", [])
            for ref in rule.get("backendRefs", [])
        ]

    def weights(self) -> dict[str, float]:
        """Track -> its backendRef's weight in the HTTPRoute (Gateway API's default 1
        when unset; 0 for a track the route does not name)."""
        tracks = list(self.variants())
        route = self._get_route()
        by_service = {ref.get("name"): float(ref.get("weight", 1)) for ref in self._backends(route)}
        return {t: by_service.get(self.ctx.service_name(t), 0.0) for t in tracks}

    def versions(self) -> list[VersionInfo]:
        """The tracks with their route shares, then the configured version if not deployed."""
        served = self.variants()
        where = f"HTTPRoute {self.namespace}/{self.route}"
        out = deployed_versions(served, self.weights(), where)
        seen = {v for versions in served.values() for v in versions.split(", ")}
        configured = self.spec.model.version
        if configured not in seen:
            out.append(
                VersionInfo(
                    configured,
                    "configured",
                    source="stack config",
                    detail="not deployed (run `pulumi up`)",
                )
            )
            seen.add(configured)
        repository = self._repository()
        out += [
            VersionInfo(version, "image", source=f"Artifact Registry {repository}", detail=tag)
            for version, tag in sorted(self._image_tags().items())
            if version not in seen
        ]
        return out

    def _repository(self) -> str:
        ctx = self.ctx
        return f"projects/{ctx.project}/locations/{ctx.region}/repositories/{ctx.repository_id()}"

    def _image_tags(self) -> dict[str, str]:
        """Model version -> an image tag of it in the stack's repository ({} when the
        repository cannot be read: no project, no credentials, not created)."""
        if not self.ctx.project or not self.ctx.region:
            return {}
        package = urllib.parse.quote(self.spec.model.name, safe="")
        url = f"{self.registry}/v1/{self._repository()}/packages/{package}/tags"
        out: dict[str, str] = {}
        page: dict[str, Any] = {}
        try:
            while True:
                query = {"pageSize": "500"}
                if page.get("nextPageToken"):
                    query["pageToken"] = str(page["nextPageToken"])
                page = self._get_json(f"{url}?{urllib.parse.urlencode(query)}")
                for item in page.get("tags", []):
                    tag = str(item.get("name", "")).rsplit("/", 1)[-1]
                    if "-" in tag:
                        out.setdefault(tag.rsplit("-", 1)[0], tag)
                if not page.get("nextPageToken"):
                    return out
        except LifecycleError:
            return out

    def _accepted(self, route: dict[str, Any]) -> bool:
        """Whether every parent reports the route's current generation Accepted and
        ResolvedRefs; LifecycleError when one refuses it."""
        generation = route.get("metadata", {}).get("generation", 0)
        parents = route.get("status", {}).get("parents", [])
        if not parents:
            return False
        for parent in parents:
            conditions = {c.get("type"): c for c in parent.get("conditions", [])}
            for kind in ("Accepted", "ResolvedRefs"):
                condition = conditions.get(kind)
                if condition is None or condition.get("observedGeneration", 0) < generation:
                    return False
                if condition.get("status") != "True":
                    raise LifecycleError(
                        f"HTTPRoute {self.route}: {kind} is {condition.get('status')} "
                        f"({condition.get('reason')}: {condition.get('message')})"
                    )
        return True

    def set_weights(self, weights: dict[str, float]) -> None:
        """Replace the route's backend weights with `weights` (whole percents) and wait
        until its Gateway accepted the new generation."""
        percents = whole_percents(weights)
        route = self._get_route()
        backends = self._backends(route)
        services = {self.ctx.service_name(t): t for t in percents}
        named = {ref.get("name") for ref in backends}
        missing = sorted(t for s, t in services.items() if s not in named)
        others = sorted(str(n) for n in named if n not in services)
        if missing or others:
            raise LifecycleError(
                f"HTTPRoute {self.route}'s backends ({', '.join(sorted(map(str, named)))}) "
                f"do not match the tracks to weigh ({', '.join(percents)}): "
                + (f"no backend for {', '.join(missing)}" if missing else "")
                + ("; " if missing and others else "")
                + (f"not weighed: {', '.join(others)}" if others else "")
            )
        if all(int(ref.get("weight", 1)) == percents[services[ref["name"]]] for ref in backends):
            return
        for ref in backends:
            ref["weight"] = percents[services[ref["name"]]]
            ref.setdefault("port", SERVICE_PORT)
        group, version, plural = ROUTES
        route.pop("status", None)
        self._call(
            f"HTTPRoute {self.route} update",
            self._api("CustomObjectsApi").replace_namespaced_custom_object,
            group,
            version,
            self.namespace,
            plural,
            self.route,
            route,
        )
        deadline = time.monotonic() + self.wait_s
        while not self._accepted(self._get_route()):
            if time.monotonic() > deadline:
                raise LifecycleError(
                    f"HTTPRoute {self.route}: its Gateway did not accept the new weights "
                    f"within {self.wait_s:.0f} s"
                )
            self.sleep(self.poll_s)

    def conditions(self) -> dict[str, str]:
        """Alert policy name -> its PromQL condition, for the rollback conditions."""
        from inferstack.components.gcp.observability import alert_conditions

        return {
            f"inferstack {self.ctx.base}: {c['display_name']}": c[
                "condition_prometheus_query_language"
            ]["query"]
            for c in alert_conditions(self.ctx)
            if c["display_name"] in ROLLBACK_CONDITIONS
        }

    def _get_json(self, url: str) -> dict[str, Any]:
        """A Google API GET with the user's token."""
        request = urllib.request.Request(url)  # noqa: S310 (https, or a test URL)
        request.add_header("Authorization", f"Bearer {self.token()}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                body = json.loads(response.read())
        except urllib.error.HTTPError as err:
            detail = err.read().decode(errors="replace")[:300]
            raise LifecycleError(f"GET {url}: HTTP {err.code} {detail}") from err
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise LifecycleError(f"GET {url}: {err}") from err
        return body if isinstance(body, dict) else {}

    def _query(self, promql: str) -> list[Any]:
        query = urllib.parse.urlencode({"query": promql})
        body = self._get_json(f"{self.prometheus}/api/v1/query?{query}")
        if body.get("status") != "success":
            raise LifecycleError(f"managed Prometheus: unexpected answer to {promql!r}: {body}")
        return list(body.get("data", {}).get("result", []))

    def firing_alarms(self) -> list[str]:
        """The rollback alert policies whose condition holds now."""
        return [name for name, promql in self.conditions().items() if self._query(promql)]


def variant_artifacts(spec: DeploymentSpec) -> dict[str, str]:
    """Track -> the bundle the stack config gives it (a canary's stable track has none:
    only its image is known)."""
    if is_canary(spec):
        return {"canary": spec.model.artifact}
    out = {"stable": spec.model.artifact}
    out.update({v.name: v.artifact or spec.model.artifact for v in spec.rollout.variants})
    return out


class GkeStackFile(StackFile):
    """A stack config whose split is the GKE tracks': A/B variants' weights (`stable` is
    `rollout.primary_weight`), or in a canary rollout `rollout.canary_percent`."""

    def set_weights(self, weights: dict[str, float], primary: str = "stable") -> None:
        """Write the route's split in the stack's terms (see the class docstring)."""
        spec = load_spec(self.deployment, self.path.name)
        if not is_canary(spec):
            # Shares: the stack's weights are relative, and primary_weight defaults to 1.
            super().set_weights(shares(weights), primary="stable")
            return
        percent = whole_percents(weights).get("canary", 0)
        if 0 < percent < 100:
            self.set(("rollout", "canary_percent"), percent)
            return
        options = gcp_options(spec)
        if percent == 100:
            # The canary is done: model.version alone serves, on the stable track.
            for key in ("stable_version", "stable_image"):
                self._clear(("targets", "gcp", key))
            return
        raise StackFileError(
            f"{self.path.name}: the route sends all traffic to stable "
            f"({options.stable_version}), which a canary rollout cannot say (canary_percent "
            f"is above 0): before the next `pulumi up`, set model.version to "
            f"{options.stable_version} with its bundle (or targets.gcp.image: "
            f"{options.stable_image}) and remove targets.gcp.stable_version and stable_image"
        )

    def _clear(self, keys: Sequence[str]) -> None:
        """Set `deployment.<keys>` to null (the field's default)."""
        null: Any = None  # `set` writes scalars; None is YAML's null
        self.set(keys, null)
