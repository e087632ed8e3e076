"""The per-target seam of the lifecycle commands, and the data they exchange.

A target's lifecycle says which versions exist and which serve what share of traffic,
shifts traffic between deployed variants where the platform can do that without a
deployment (`shifts_traffic`), and says which rollback alarms fire. Everything else
(the step plan, bake times, schema checks, rewriting the stack config, Ctrl-C) is the
same for every target and lives in `rollout.py`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from inferstack.components.errors import DeployError

State = Literal["serving", "standby", "registered", "configured", "image"]


class LifecycleError(DeployError):
    """A lifecycle command cannot do what was asked; the message says why and what to do."""


class NotAvailableError(LifecycleError):
    """The stack's target has no lifecycle support yet."""


@dataclass(frozen=True)
class VersionInfo:
    """One model version and where it is."""

    version: str
    state: State
    """serving (takes traffic), standby (deployed, weight 0), registered (in the model
    registry, not deployed), configured (in the stack config), image (a built image)."""
    share: float = 0.0
    """Share of the endpoint's traffic it takes, 0 to 1."""
    variant: str | None = None
    """The endpoint variant (or container) that serves it, if deployed."""
    source: str = ""
    """Where it was found: the endpoint, the model registry, the stack config, Docker."""
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        """The version as JSON-ready data."""
        return asdict(self)


class TargetLifecycle(Protocol):
    """What a target offers the lifecycle commands."""

    target: str
    shifts_traffic: bool
    """Whether `set_weights` moves live traffic without a `pulumi up`."""

    def versions(self) -> list[VersionInfo]:
        """Deployed and registered versions, serving first."""
        ...

    def variants(self) -> dict[str, str]:
        """Deployed variant -> the model version it serves."""
        ...

    def weights(self) -> dict[str, float]:
        """Deployed variant -> its traffic weight as the platform reports it."""
        ...

    def set_weights(self, weights: dict[str, float]) -> None:
        """Shift live traffic to `weights` and wait until the platform applied them."""
        ...

    def firing_alarms(self) -> list[str]:
        """Names of the rollback alarms now in ALARM."""
        ...


def shares(weights: dict[str, float]) -> dict[str, float]:
    """Weights as shares of the total (all 0 when they sum to 0)."""
    total = sum(weights.values())
    return {k: (w / total if total > 0 else 0.0) for k, w in weights.items()}


def deployed_versions(
    variants: dict[str, str], weights: dict[str, float], source: str
) -> list[VersionInfo]:
    """Deployed `variants` (variant -> version) as versions: serving or standby by their
    share of `weights`, largest share first."""
    share = shares(weights)
    out = [
        VersionInfo(
            version,
            "serving" if share.get(variant, 0) > 0 else "standby",
            share.get(variant, 0.0),
            variant,
            source,
        )
        for variant, version in variants.items()
    ]
    out.sort(key=lambda v: -v.share)
    return out


def bundle_path(artifact: str | None, root: Path) -> Path | None:
    """The local bundle folder an artifact names, or None for a URI or a missing folder."""
    if not artifact or "://" in artifact:
        return None
    path = Path(artifact)
    path = path if path.is_absolute() else root / path
    return path if (path / "inferstack.yaml").is_file() else None
