"""A stack as the lifecycle commands see it: its config file, its spec and its target's seam."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inferstack.components.lifecycle.seam import NotAvailableError, TargetLifecycle, bundle_path
from inferstack.components.lifecycle.stackfile import StackFile
from inferstack.components.spec.config import (
    find_project_root,
    load_spec,
    read_stack_config,
    stack_config_dir,
)
from inferstack.components.spec.models import DeploymentSpec

Sleep = Callable[[float], None]


@dataclass
class Stack:
    """One stack: where its files are, its spec, and its target's lifecycle."""

    name: str
    root: Path
    file: StackFile
    spec: DeploymentSpec
    lifecycle: TargetLifecycle

    def artifact_of(self, variant: str) -> Path | None:
        """The local bundle the stack config gives `variant` ('primary': the model's)."""
        artifact = self.spec.model.artifact
        for v in self.spec.rollout.variants:
            if v.name == variant and v.artifact:
                artifact = v.artifact
        return bundle_path(artifact, self.root)


def lifecycle_for(
    spec: DeploymentSpec, stack: str, config: dict[str, object], root: Path, sleep: Sleep
) -> TargetLifecycle:
    """The lifecycle seam of `spec`'s target."""
    if spec.target == "aws":
        from inferstack.components.lifecycle.aws import AwsLifecycle

        region = spec.region or str(config.get("aws:region") or "") or "us-east-1"
        return AwsLifecycle(spec, stack, region, sleep=sleep)
    if spec.target == "local":
        from inferstack.components.lifecycle.local import LocalLifecycle

        return LocalLifecycle(spec, stack, root)
    raise NotAvailableError(
        f"stack {stack}: lifecycle commands are not available for the {spec.target} target "
        "yet (its target is being built); they support aws and local"
    )


def open_stack(
    stack: str,
    project: Path | None = None,
    *,
    sleep: Sleep = time.sleep,
    factory: Callable[..., TargetLifecycle] = lifecycle_for,
) -> Stack:
    """Stack `stack` of the project at `project` (default: the nearest with Pulumi.yaml)."""
    root = find_project_root(project)
    config = read_stack_config(root, stack)
    path = stack_config_dir(root) / f"Pulumi.{stack}.yaml"
    spec = load_spec(config.get("inferstack:deployment"), path.name)
    return Stack(stack, root, StackFile(path), spec, factory(spec, stack, config, root, sleep))
