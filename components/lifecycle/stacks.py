"""A stack as the lifecycle commands see it: its config file, its spec and its target's seam."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import yaml

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
        """The local bundle the stack config gives `variant` (by default the model's)."""
        artifact = variant_artifacts(self.spec).get(variant, self.spec.model.artifact)
        return bundle_path(artifact, self.root)


def variant_artifacts(spec: DeploymentSpec) -> dict[str, str | None]:
    """Variant -> its bundle in the stack config, in the target's variant names: an
    Azure colour, a GKE track, else 'primary' and the A/B variants."""
    if spec.target == "azure":
        from inferstack.components.lifecycle import azure

        return dict(azure.variant_artifacts(spec))
    if spec.target == "gcp":
        from inferstack.components.lifecycle import gcp

        return {"stable": None, **gcp.variant_artifacts(spec)}
    out: dict[str, str | None] = {"primary": spec.model.artifact}
    out.update({v.name: v.artifact or spec.model.artifact for v in spec.rollout.variants})
    return out


def stack_file(spec: DeploymentSpec, path: Path) -> StackFile:
    """The stack config file, as the target writes its traffic split into it."""
    if spec.target == "azure":
        from inferstack.components.lifecycle.azure import AzureStackFile

        return AzureStackFile(path)
    if spec.target == "gcp":
        from inferstack.components.lifecycle.gcp import GkeStackFile

        return GkeStackFile(path)
    return StackFile(path)


def project_name(root: Path) -> str:
    """The Pulumi project's name (Pulumi.yaml), which the Azure target's names hash."""
    try:
        data = yaml.safe_load((root / "Pulumi.yaml").read_text())
    except (OSError, yaml.YAMLError) as err:
        raise NotAvailableError(f"cannot read {root / 'Pulumi.yaml'}: {err}") from err
    name = data.get("name") if isinstance(data, dict) else None
    if not name:
        raise NotAvailableError(f"{root / 'Pulumi.yaml'} has no project name")
    return str(name)


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
    if spec.target == "azure":
        from inferstack.components.lifecycle.azure import AzureLifecycle, subscription_of

        subscription = subscription_of(spec, config, dict(os.environ))
        return AzureLifecycle(spec, project_name(root), stack, subscription, sleep=sleep)
    if spec.target == "gcp":
        from inferstack.components.gcp.rules import gcp_options
        from inferstack.components.lifecycle.gcp import GkeLifecycle

        project = gcp_options(spec).project or str(config.get("gcp:project") or "")
        return GkeLifecycle(spec, stack, project, sleep=sleep)
    raise NotAvailableError(
        f"stack {stack}: lifecycle commands are not available for the {spec.target} target; "
        "they support aws, azure, gcp and local"
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
    file = stack_file(spec, path)
    return Stack(stack, root, file, spec, factory(spec, stack, config, root, sleep))
