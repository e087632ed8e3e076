"""Policy rules for the Azure ML target's resources."""

from __future__ import annotations

from inferstack.policies.base import Rule

RULES: tuple[Rule, ...] = ()
