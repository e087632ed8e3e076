"""The one seam between the cloud-neutral spec and the targets.

Each target names the `ComponentResource` that builds it in its registry entry
(`Target.component`, a dotted path imported on use), so a stack for `local` never
imports the AWS SDK. Every target component takes `(name, spec, opts)` and exposes
the outputs of `InferenceEndpoint`.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Protocol

from inferstack.components.errors import TargetNotImplementedError
from inferstack.components.targets import all_targets, get_target

if TYPE_CHECKING:
    import pulumi

    from inferstack.components.spec.models import DeploymentSpec


class InferenceEndpoint(Protocol):
    """The outputs every target's endpoint component exports."""

    url: pulumi.Output[str]
    """Base URL of the API callers use."""
    api_key: pulumi.Output[str]
    """The caller API key, a secret ("" when the gateway does not use keys)."""
    dashboard_url: pulumi.Output[str]
    """Where the metrics dashboard is ("" when there is none)."""


def extra_outputs(endpoint: object) -> dict[str, object]:
    """Stack outputs a target adds beside the common three (for example the DNS records
    a user must create for a managed certificate): its `extra_outputs` mapping, if any."""
    extra = getattr(endpoint, "extra_outputs", None)
    return dict(extra) if isinstance(extra, dict) else {}


def implemented_targets() -> list[str]:
    """The targets whose component module is present in this installation."""
    return [
        t.name
        for t in all_targets().values()
        if t.component and importlib.util.find_spec(t.component.partition(":")[0]) is not None
    ]


def component_class(target: str) -> type:
    """The component class for `target`, or `TargetNotImplementedError`."""
    declared = get_target(target)
    if declared.component is None:
        raise TargetNotImplementedError(
            f"target {target!r} is not implemented yet; implemented targets: "
            f"{', '.join(implemented_targets()) or 'none'}"
        )
    module_name, _, class_name = declared.component.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name and err.name.startswith("inferstack"):
            raise
        raise TargetNotImplementedError(
            f"target {target!r} needs the package {err.name!r}: "
            f"pip install 'inferstack[{declared.pip_extra}]'"
        ) from err
    return getattr(module, class_name)


def create_endpoint(
    name: str, spec: DeploymentSpec, opts: pulumi.ResourceOptions | None = None
) -> InferenceEndpoint:
    """Declare the endpoint for `spec` on its target and return its component."""
    cls = component_class(spec.target)
    return cls(name, spec, opts)
