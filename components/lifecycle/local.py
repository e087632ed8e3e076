"""The local target's lifecycle: the stack config, the running container and local images.

The local target runs one runtime container, so there is no traffic to split: a
promote or rollback rewrites the stack config (version and bundle) and the container
changes only when `pulumi up` replaces it. `versions` reads what the Docker engine
has: the runtime container's INFERSTACK_MODEL_VERSION (the endpoint label
`dev.inferstack.endpoint=<stack>`) and the images labelled with the model's name.
Without a Docker CLI it lists the configured version only, and says so.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from inferstack.components.lifecycle.seam import LifecycleError, VersionInfo
from inferstack.components.spec.models import DeploymentSpec
from inferstack.runtime.contract import Env

ENDPOINT_LABEL = "dev.inferstack.endpoint"
MODEL_NAME_LABEL = "dev.inferstack.model.name"
MODEL_VERSION_LABEL = "dev.inferstack.model.version"
DOCKER_TIMEOUT_S = 20


class LocalLifecycle:
    """A local stack's versions; traffic moves only with `pulumi up`."""

    target = "local"
    shifts_traffic = False

    def __init__(self, spec: DeploymentSpec, stack: str, root: Path) -> None:
        self.spec = spec
        self.stack = stack
        self.root = root
        self.docker = shutil.which("docker")

    def _docker(self, *args: str) -> list[dict[str, object]]:
        """Each JSON line `docker ARGS --format '{{json .}}'` prints ([] without Docker)."""
        if self.docker is None:
            return []
        try:
            done = subprocess.run(
                [self.docker, *args, "--format", "{{json .}}"],
                capture_output=True,
                text=True,
                timeout=DOCKER_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return []
        if done.returncode != 0:
            return []
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def _running(self) -> dict[str, str]:
        """Container name -> the version its environment names, for this stack's runtime."""
        out = {}
        for row in self._docker("ps", "--filter", f"label={ENDPOINT_LABEL}={self.stack}"):
            name = str(row.get("Names", ""))
            for inspected in self._docker("inspect", name):
                config = inspected.get("Config")
                env = config.get("Env", []) if isinstance(config, dict) else []
                for item in env or []:
                    key, _, value = str(item).partition("=")
                    if key == Env.MODEL_VERSION:
                        out[name] = value
        return out

    def _images(self) -> dict[str, str]:
        """Model version -> image reference, for images labelled with the model's name."""
        rows = self._docker(
            "image", "ls", "--filter", f"label={MODEL_NAME_LABEL}={self.spec.model.name}"
        )
        out: dict[str, str] = {}
        for row in rows:
            tag = str(row.get("Tag", ""))
            if tag and tag != "<none>":
                out.setdefault(tag.rsplit("-", 1)[0], f"{row.get('Repository')}:{tag}")
        return out

    def variants(self) -> dict[str, str]:
        """The runtime container -> the version it serves (empty when none runs)."""
        return self._running()

    def weights(self) -> dict[str, float]:
        """Each running container takes all of its endpoint's traffic."""
        return dict.fromkeys(self._running(), 1.0)

    def set_weights(self, weights: dict[str, float]) -> None:
        """Not possible: one container serves a local stack."""
        raise LifecycleError("the local target runs one container: traffic cannot be split")

    def firing_alarms(self) -> list[str]:
        """None are read: the local alerts live in Prometheus, not in a rollout."""
        return []

    def versions(self) -> list[VersionInfo]:
        """The running container's version, the configured one, then other local images."""
        configured = self.spec.model.version
        out = [
            VersionInfo(version, "serving", 1.0, name, "docker container")
            for name, version in self._running().items()
        ]
        seen = {v.version for v in out}
        note = "" if self.docker else "no docker CLI: running containers and images not read"
        if configured not in seen:
            out.append(
                VersionInfo(
                    configured,
                    "configured",
                    source=f"Pulumi.{self.stack}.yaml",
                    detail=note or "not running (run `pulumi up`)",
                )
            )
            seen.add(configured)
        out += [
            VersionInfo(version, "image", source="docker image", detail=ref)
            for version, ref in sorted(self._images().items())
            if version not in seen
        ]
        return out
