"""`DockerMocks`: Pulumi mocks whose docker resources are real objects on the engine.

Like the moto mirror for AWS, but the "cloud" is the local Docker engine: each
`docker:index/*` resource a program declares is built, created or started there from
its declared inputs, and the program gets the engine's ids back. Other resources get
the offline plan's fakes, except `random:index/randomPassword`, which is really random
(the program's API key must be a real secret a test can call with).

The mocks keep state across runs like the engine's state file: running a program a
second time with the same `DockerMocks` leaves an unchanged resource alone and
replaces a changed container. A container's name and host ports are fixed, so the
old one is stopped (SIGTERM, `destroyGraceSeconds` to drain) and removed before the
new one is created, which is what the local target declares (`delete_before_replace`)
and the only order the engine allows for a fixed name. `destroy()` removes every
container, network and volume the mocks created, by the ids they got, newest first;
images stay, as the provider leaves them (`make clean-images` removes them).
"""

from __future__ import annotations

import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pulumi

from inferstack.components.plan.mocks import PlanMocks
from inferstack.components.testing.docker.container import create_container, remove_container
from inferstack.components.testing.docker.engine import DockerMirrorError, Engine
from inferstack.components.testing.docker.image import BuiltImage, build_image, pull_image
from inferstack.components.testing.docker.network import (
    create_network,
    create_volume,
    remove_network,
    remove_volume,
)

IMAGE = "docker:index/image:Image"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"  # noqa: S105  (a type token)


def plain(value: Any) -> Any:
    """`value` with Pulumi's secret markers taken off at every depth: the engine gets
    the real value, as the provider does (an env list holding one secret arrives as a
    secret list)."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


@dataclass
class Created:
    """One engine object the mocks created."""

    kind: str
    """`container`, `network` or `volume`."""
    id: str
    """The engine's id (a volume's name)."""
    name: str
    """The Pulumi resource's logical name."""
    inputs: dict[str, Any] = field(repr=False)
    """The inputs it was created from."""


@dataclass(frozen=True)
class Replacement:
    """One container replaced, with when each step ended (`time.monotonic()`)."""

    old: str
    new: str
    stopping: float
    """The old container got SIGTERM (it drains, then exits)."""
    removed: float
    """The old container is gone; its name and host ports are free."""
    ready: float
    """The new container is started (and healthy, when it declares `wait`)."""


@dataclass(frozen=True)
class NotRun:
    """A container whose image the engine could not get: checked on its inputs only."""

    name: str
    inputs: dict[str, Any] = field(repr=False)
    reason: str


class DockerMocks(pulumi.runtime.Mocks):
    """Mirror the docker resources of a program onto the local Docker engine."""

    def __init__(
        self,
        engine: Engine | None = None,
        *,
        build_args: dict[str, str] | None = None,
        build_network: str | None = "host",
        build_timeout_s: float = 900,
        pull_timeout_s: float = 30,
    ) -> None:
        self.engine = engine or Engine()
        self.build_args = dict(build_args or {})
        self.build_network = build_network
        self.build_timeout_s = build_timeout_s
        self.pull_timeout_s = pull_timeout_s
        self.fallback = PlanMocks()
        self.created: list[Created] = []
        """Every engine object created, oldest first (removed ones too)."""
        self.live: dict[str, Created] = {}
        """Logical name to the object that stands for it now."""
        self.images: dict[str, BuiltImage] = {}
        """Logical name of each `Image` to what was built."""
        self.unavailable: dict[str, str] = {}
        """Image reference to why the engine could not get it."""
        self.not_run: dict[str, NotRun] = {}
        """Containers checked on their declared inputs only, by logical name."""
        self.generated: dict[str, str] = {}
        """Logical name of each `RandomPassword` to its value."""
        self.replaced: list[Replacement] = []
        """Each container replacement, in order."""
        self._lock = threading.RLock()

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        # Registrations arrive from several threads; the engine work runs one at a time.
        with self._lock:
            handler = {
                IMAGE: self._image,
                REMOTE_IMAGE: self._remote_image,
                CONTAINER: self._container,
                NETWORK: self._network,
                VOLUME: self._volume,
                RANDOM_PASSWORD: self._password,
            }.get(args.typ)
            if handler is None:
                if args.typ.startswith("docker:"):
                    raise DockerMirrorError(f"{args.typ} ({args.name}): not mirrored")
                return self.fallback.new_resource(args)
            return handler(args.name, plain(args.inputs))

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        return self.fallback.call(args)

    def _image(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict]:
        if name not in self.images:
            self.images[name] = build_image(
                self.engine,
                inputs,
                build_args=self.build_args,
                network=self.build_network,
                timeout_s=self.build_timeout_s,
            )
        built = self.images[name]
        return built.id, {**inputs, "imageName": built.name, "repoDigest": ""}

    def _remote_image(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict]:
        reference = str(inputs["name"])
        image_id, why = pull_image(self.engine, reference, self.pull_timeout_s)
        if image_id is None:
            image_id = f"unavailable:{reference}"
            self.unavailable[image_id] = why
        return image_id, {**inputs, "imageId": image_id, "repoDigest": ""}

    def _container(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict]:
        image = str(inputs.get("image", ""))
        if image in self.unavailable:
            self.not_run[name] = NotRun(name, inputs, self.unavailable[image])
            return f"not-run-{name}", {**inputs, "networkDatas": []}
        old = self.live.get(name)
        if old is not None and old.inputs == inputs:
            return old.id, {**inputs, "networkDatas": []}
        stopping = time.monotonic()
        if old is not None:
            remove_container(self.engine, old.id, float(old.inputs.get("destroyGraceSeconds") or 0))
            del self.live[name]
        removed = time.monotonic()
        container_id = create_container(self.engine, inputs)
        self._record(Created("container", container_id, name, inputs))
        if old is not None:
            self.replaced.append(
                Replacement(old.id, container_id, stopping, removed, time.monotonic())
            )
        return container_id, {**inputs, "networkDatas": []}

    def _network(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict]:
        return self._keep_or_create(name, inputs, "network", create_network)

    def _volume(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict]:
        return self._keep_or_create(name, inputs, "volume", create_volume)

    def _keep_or_create(
        self, name: str, inputs: dict[str, Any], kind: str, create: Any
    ) -> tuple[str, dict]:
        old = self.live.get(name)
        if old is not None:
            if old.inputs != inputs:
                raise DockerMirrorError(f"{kind} {name}: a changed {kind} is not mirrored")
            return old.id, inputs
        object_id = create(self.engine, inputs)
        self._record(Created(kind, object_id, name, inputs))
        return object_id, inputs

    def _password(self, name: str, inputs: dict[str, Any]) -> tuple[str, dict]:
        if name not in self.generated:
            alphabet = string.ascii_letters + string.digits
            if inputs.get("special", True):
                alphabet += "!@#$%&*()-_=+[]{}<>:?"
            length = int(inputs.get("length", 16))
            self.generated[name] = "".join(secrets.choice(alphabet) for _ in range(length))
        return f"{name}-id", {**inputs, "result": self.generated[name]}

    def _record(self, created: Created) -> None:
        self.created.append(created)
        self.live[created.name] = created

    def destroy(self) -> list[str]:
        """Remove every container, network and volume created, newest first, by id;
        return the errors (an object already gone is not one)."""
        errors = []
        with self._lock:
            for created in reversed(self.created):
                try:
                    if created.kind == "container":
                        grace = float(created.inputs.get("destroyGraceSeconds") or 0)
                        remove_container(self.engine, created.id, grace)
                    elif created.kind == "network":
                        remove_network(self.engine, created.id)
                    else:
                        remove_volume(self.engine, created.id)
                except DockerMirrorError as err:
                    errors.append(str(err))
            self.live.clear()
        return errors
