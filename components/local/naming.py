"""Names of the local target's resources, the names they had before, and how its
fixed-name containers are replaced.

Every Pulumi child name and every Docker name (containers, network, volume) derives
from the endpoint component's name, never from the model's: renaming the model must
update the containers in place, not create a second set that cannot bind the host
ports the first still holds. The stack program names the component after the stack.

Stacks deployed before that named the component after the model (`churn-logreg`,
`churn-logreg-runtime`, ...); `previous` gives each resource its old name as an alias
so such a stack updates its resources instead of creating new ones beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

REPLACE_IN_PLACE: dict[str, Any] = {
    # The containers have fixed names and fixed host ports: a replacement can start
    # only once the old container is gone (Pulumi's default starts the new one first).
    "delete_before_replace": True,
    # The provider updates only the restart policy and resources of a running
    # container; a changed health check needs a new container to take effect.
    "replace_on_changes": ["healthcheck"],
}
"""Resource options of every local container."""


@dataclass(frozen=True)
class LocalNames:
    """The logical and Docker names of one local endpoint's resources."""

    name: str
    """The endpoint component's name."""
    previous: str | None = None
    """The component's name in earlier versions (the model's name), if it differs."""

    def child(self, suffix: str) -> str:
        """The Pulumi name of the child `suffix` (e.g. `runtime`)."""
        return f"{self.name}-{suffix}"

    def docker(self, suffix: str = "") -> str:
        """A Docker object name: `inferstack-<name>[-<suffix>]`."""
        return f"inferstack-{self.name}" + (f"-{suffix}" if suffix else "")

    def aliases(self, suffix: str | None = None) -> list[pulumi.Input[str | pulumi.Alias]]:
        """The alias to the resource's old name (the component itself when `suffix` is
        None); none when the name did not change."""
        if self.previous is None or self.previous == self.name:
            return []
        old = self.previous if suffix is None else f"{self.previous}-{suffix}"
        return [pulumi.Alias(name=old)]

    def nested(self, suffix: str) -> LocalNames:
        """The names inside the child component `suffix` (e.g. `monitoring`)."""
        previous = f"{self.previous}-{suffix}" if self.previous else None
        return LocalNames(self.child(suffix), previous)


def go_duration(seconds: int) -> str:
    """`seconds` as Go's `time.Duration.String()` writes it (`60` is `1m0s`).

    The Docker provider reads a container's health check durations back in this form;
    any other spelling of the same duration is a diff on every `pulumi up`.
    """
    if seconds < 0:
        raise ValueError(f"a duration must not be negative, got {seconds}")
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
