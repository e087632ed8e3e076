"""Policy rules for the GKE target's resources."""

from __future__ import annotations

from inferstack.policies.base import Rule

RULES: tuple[Rule, ...] = ()
