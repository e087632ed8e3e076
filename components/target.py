"""What a target declares about itself: its profile, options, rules, component and fakes.

Each target folder has a `target.py` that builds one `Target` and imports no cloud SDK
and no Pulumi, so the spec can validate against every target where only pydantic is
installed. `inferstack.components.targets` is the one list of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from inferstack.components.spec.options import TargetOptions

if TYPE_CHECKING:
    from inferstack.components.spec.models import DeploymentSpec

SpecRule = Callable[["DeploymentSpec"], None]
"""Raises `SpecRuleError` (naming the field) when a spec breaks one of the target's rules."""


@dataclass(frozen=True)
class InstanceSize:
    """How many vCPUs and GPUs one instance of a type has.

    SageMaker reports CPUUtilization and GPUUtilization summed over these
    (0-100 x vCPUs, 0-100 x GPUs), so a percent of the whole instance needs them.
    """

    vcpus: int
    """Virtual CPUs of one instance."""
    gpus: int = 0
    """GPUs of one instance (0 for CPU types)."""


@dataclass(frozen=True)
class TargetProfile:
    """What one target offers: instance types per accelerator and its capabilities."""

    name: str
    default_region: str | None
    # accelerator -> default instance (or node machine) type
    instance_types: dict[str, str]
    # accelerator -> instance-type prefixes that carry that GPU (for overrides)
    gpu_families: dict[str, tuple[str, ...]] = field(default_factory=dict)
    spot: bool = False
    scale_to_zero: bool = False
    autoscaling: bool = True
    auth_modes: tuple[str, ...] = ("api_key", "jwt", "iam", "none")
    rollback_on_alarms: bool = True
    """Whether an update rolls back by itself when the rollback alarms fire
    (`rollout.auto_rollback`); False where the platform has no such mechanism."""
    # instance type -> vCPUs and GPUs, for the types whose metrics the target scales
    instance_sizes: dict[str, InstanceSize] = field(default_factory=dict)

    def accelerators(self) -> tuple[str, ...]:
        """The accelerator kinds this target can provide, `none` included."""
        return tuple(self.instance_types)

    def is_gpu_instance(self, accelerator: str, instance_type: str) -> bool:
        """Whether `instance_type` carries `accelerator` on this target."""
        return instance_type.startswith(self.gpu_families.get(accelerator, ()))

    def instance_size(self, instance_type: str) -> InstanceSize:
        """vCPUs and GPUs of `instance_type`; KeyError names the known types."""
        try:
            return self.instance_sizes[instance_type]
        except KeyError:
            known = ", ".join(self.instance_sizes) or "none"
            raise KeyError(
                f"no vCPU/GPU count for {instance_type!r} on {self.name}; known: {known}"
            ) from None


@dataclass(frozen=True)
class Target:
    """One deployment target, as it describes itself to the registry."""

    name: str
    """The spec's `target` value, and the key of its settings under `targets:`."""
    profile: TargetProfile
    """Instance types per accelerator, default region and capabilities."""
    options: type[TargetOptions]
    """The typed model of its settings (`targets.<name>:` in the spec)."""
    rules: tuple[SpecRule, ...] = ()
    """Spec rules only this target has, run after the cloud-neutral ones."""
    component: str | None = None
    """`module:Class` of its endpoint component; None while it is not built yet."""
    plan_fakes: tuple[str, ...] = ()
    """Modules whose `RESOURCE_FAKES` and `CALL_FAKES` the offline plan's mocks use."""
    extra: str | None = None
    """The pip extra that installs its provider SDKs (default: its name)."""
    serving_instance_type: Callable[[DeploymentSpec], str] | None = None
    """The instance type a spec's replicas run on where it is not `spec.instance_type()`
    (a mode with other capacity); the cost estimate prices replicas at it."""

    def instance_type_for(self, spec: DeploymentSpec) -> str:
        """The instance type `spec`'s replicas run on."""
        if self.serving_instance_type is not None:
            return self.serving_instance_type(spec)
        return spec.instance_type()

    @property
    def pip_extra(self) -> str:
        """The extra to install for this target."""
        return self.extra or self.name
