"""The endpoint's traffic split, set after its deployments exist: a Pulumi dynamic resource.

Azure ML refuses an online endpoint whose `traffic` names a deployment that does not
exist yet, and a deployment needs its endpoint first, so the endpoint cannot be
declared with its split (the Azure CLI sets traffic with a separate
`az ml online-endpoint update --traffic`). This resource does the same: it reads the
endpoint, sets `traffic` and `mirrorTraffic`, writes it back and waits until the
endpoint has succeeded.

The endpoint resource itself is declared without traffic; its `revision` input (a hash
of the endpoint's own inputs) is one of this resource's inputs, so whenever an update
re-sends the endpoint (and with it no traffic), the split is applied again in the same
`pulumi up`. Deleting this resource leaves the endpoint's traffic as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from inferstack.components.azure.arm import ARM, TokenCredential, arm_json, default_credential
from inferstack.components.errors import DeployError

KIND = "azureml-endpoint-traffic"
"""The `kind` input that tells this dynamic resource from others (plan fakes, policies)."""
API_VERSION = "2024-10-01"
WAIT_S = 1800.0


def check_split(traffic: Mapping[str, int], mirror: Mapping[str, int]) -> None:
    """What Azure ML checks of a split: live traffic sums to 100, mirror traffic goes to
    at most one deployment, at most 50%, and never to one that has live traffic."""
    total = sum(traffic.values())
    if total != 100:
        raise DeployError(f"endpoint traffic {dict(traffic)} sums to {total}, not 100")
    mirrored = {k: v for k, v in mirror.items() if v}
    if len(mirrored) > 1 or any(v > 50 for v in mirrored.values()):
        raise DeployError(f"mirror traffic {mirrored}: one deployment, 50% at most")
    both = [k for k in mirrored if traffic.get(k)]
    if both:
        raise DeployError(f"deployment {both[0]!r} would get live and mirror traffic")


class TrafficProvider(dynamic.ResourceProvider):
    """Sets an online endpoint's traffic and mirror traffic through ARM."""

    def __init__(
        self,
        arm: str = ARM,
        credential: Callable[[], TokenCredential] | None = None,
        poll_s: float = 15.0,
    ) -> None:
        self.arm = arm
        self.credential = credential
        self.poll_s = poll_s

    def _apply(self, props: Mapping[str, Any]) -> dict[str, Any]:
        traffic = {k: int(v) for k, v in props["traffic"].items()}
        mirror = {k: int(v) for k, v in (props.get("mirror") or {}).items() if int(v)}
        check_split(traffic, mirror)
        credential = (self.credential or default_credential)()
        url = f"{self.arm}{props['endpoint_id']}?api-version={API_VERSION}"
        # Azure ML runs one operation at a time on an endpoint: wait out any running one.
        endpoint = self._wait(credential, url)
        properties = endpoint.setdefault("properties", {})
        properties["traffic"] = traffic
        properties["mirrorTraffic"] = mirror
        # The GET answer carries read-only fields that a PUT must not send back.
        for read_only in ("scoringUri", "swaggerUri", "provisioningState"):
            properties.pop(read_only, None)
        body = {
            k: endpoint[k]
            for k in ("location", "tags", "identity", "kind", "properties")
            if k in endpoint
        }
        arm_json(credential, "PUT", url, body)
        self._wait(credential, url)
        return {**props, "traffic": traffic, "mirror": mirror}

    def _wait(self, credential: TokenCredential, url: str) -> dict[str, Any]:
        """The endpoint once its provisioning state is Succeeded."""
        deadline = time.monotonic() + WAIT_S
        while True:
            endpoint = arm_json(credential, "GET", url)
            state = endpoint.get("properties", {}).get("provisioningState")
            if state == "Succeeded":
                return endpoint
            if state in ("Failed", "Canceled"):
                raise DeployError(f"endpoint traffic update ended {state}: {url}")
            if time.monotonic() > deadline:
                raise DeployError(f"endpoint still {state} after {WAIT_S:.0f} s: {url}")
            time.sleep(self.poll_s)

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        return dynamic.CreateResult(id_=f"{props['endpoint_id']}/traffic", outs=self._apply(props))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        keys = ("traffic", "mirror", "revision", "endpoint_id")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(
            changes=bool(changed),
            replaces=["endpoint_id"] if "endpoint_id" in changed else [],
            delete_before_replace=False,
        )

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(outs=self._apply(news))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        """Nothing: the endpoint keeps its split (or goes with the stack)."""


class EndpointTraffic(dynamic.Resource):
    """An online endpoint's live and mirror traffic by deployment name."""

    traffic: pulumi.Output[dict[str, int]]
    mirror: pulumi.Output[dict[str, int]]

    def __init__(
        self,
        name: str,
        endpoint_id: pulumi.Input[str],
        traffic: Mapping[str, int],
        mirror: Mapping[str, int],
        revision: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
        provider: TrafficProvider | None = None,
    ) -> None:
        check_split(traffic, {k: v for k, v in mirror.items() if v})
        super().__init__(
            provider or TrafficProvider(),
            name,
            {
                "kind": KIND,
                "endpoint_id": endpoint_id,
                "traffic": dict(traffic),
                "mirror": dict(mirror),
                "revision": revision,
            },
            opts,
        )
