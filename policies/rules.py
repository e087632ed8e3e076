"""Policy rules as plain functions over a stack's resources, one module per target.

Each rule takes every resource of a stack and yields `Violation`s. The same
rules back the CrossGuard pack (`policies/__main__.py`, run by `pulumi preview
--policy-pack policies`) and the offline check of `inferstack plan`, so what CI
enforces offline is what the engine enforces on a real preview.
"""

from __future__ import annotations

from collections.abc import Iterable

from inferstack.policies import aws, azure, gcp, local
from inferstack.policies.base import Rule, Subject, Violation

RULES: tuple[Rule, ...] = aws.RULES + local.RULES + azure.RULES + gcp.RULES


def evaluate(resources: Iterable[Subject], rules: Iterable[Rule] = RULES) -> list[Violation]:
    """Every violation of `rules` among `resources`."""
    subjects = list(resources)
    return [
        Violation(rule.name, message, rule.enforcement, resource)
        for rule in rules
        for message, resource in rule.check(subjects)
    ]
