"""Policy rules as plain functions over a stack's resources, one module per target.

Each rule takes every resource of a stack and yields `Violation`s. The same
rules back the CrossGuard pack (`policies/__main__.py`, run by `pulumi preview
--policy-pack policies`) and the offline check of `inferstack plan`, so what CI
enforces offline is what the engine enforces on a real preview.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from inferstack.policies import aws, azure, gcp, guardrails, local
from inferstack.policies.base import PolicyConfigError, Rule, Subject, Violation

RULES: tuple[Rule, ...] = aws.RULES + local.RULES + azure.RULES + gcp.RULES + guardrails.RULES

PolicyConfig = Mapping[str, Any]
"""Per-policy settings by policy name, as in `pulumi preview --policy-pack-config FILE`."""


def evaluate(
    resources: Iterable[Subject], rules: Iterable[Rule] = RULES, config: PolicyConfig | None = None
) -> list[Violation]:
    """Every violation of `rules` among `resources`, with each rule's settings and
    enforcement level from `config` (a rule set to `disabled` is skipped)."""
    subjects = list(resources)
    config = config or {}
    rules = tuple(rules)
    unknown = sorted(set(config) - {rule.name for rule in rules})
    if unknown:
        raise PolicyConfigError(f"policy config names unknown policies: {', '.join(unknown)}")
    violations = []
    for rule in rules:
        own = config.get(rule.name) or {}
        level = rule.enforcement_for(own)
        if level == "disabled":
            continue
        violations += [
            Violation(rule.name, message, level, resource)
            for message, resource in rule.run(subjects, own)
        ]
    return violations


def config_file(project: Path, stack: str) -> Path:
    """Where stack `stack`'s policy config lives (`policies/config/<stack>.json`)."""
    return project / "policies" / "config" / f"{stack}.json"


def load_config(path: Path) -> dict[str, Any]:
    """The policy config at `path`, or an empty one when there is no file."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise PolicyConfigError(f"{path}: not valid JSON: {err}") from None
    if not isinstance(data, dict):
        raise PolicyConfigError(f"{path}: expected an object of policy settings by policy name")
    return data
