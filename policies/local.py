"""Policy rules for the local Docker target's resources."""

from __future__ import annotations

from collections.abc import Iterable

from inferstack.policies.base import Rule, Subject
from inferstack.policies.base import of as _of


def local_ports_on_loopback(resources: list[Subject]) -> Iterable[tuple[str, str | None]]:
    for container in _of(resources, "docker:index/container:Container"):
        for port in container.props.get("ports") or []:
            if port.get("ip") not in ("127.0.0.1", "::1"):
                where = port.get("ip") or "all interfaces"
                yield (
                    f"port {port.get('external')} is published on {where}"
                    "; publish local endpoints on 127.0.0.1",
                    container.name,
                )


RULES: tuple[Rule, ...] = (
    Rule(
        "local-loopback-only",
        "Local containers publish ports on 127.0.0.1 only.",
        "mandatory",
        local_ports_on_loopback,
    ),
)
