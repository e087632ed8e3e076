"""The inferstack CrossGuard policy pack.

`pulumi preview --policy-pack policies` (or `pulumi up`) runs these rules on the
real engine's view of the stack; `inferstack plan` runs the same rules offline.
Configurable rules (the guardrails) take their settings from
`--policy-pack-config policies/config/<stack>.json`, checked against their schema.
"""

from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pydantic import BaseModel

from inferstack.policies.base import Rule, Subject
from inferstack.policies.rules import RULES

_LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


def _config_schema(settings: type[BaseModel] | None) -> PolicyConfigSchema | None:
    if settings is None:
        return None
    schema: dict[str, Any] = settings.model_json_schema()
    properties = {
        name: {k: v for k, v in spec.items() if k != "title"}
        for name, spec in schema.get("properties", {}).items()
    }
    return PolicyConfigSchema(properties=properties)


def _policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        subjects = [Subject(r.resource_type, r.name, r.props, r.urn) for r in args.resources]
        urns = {s.name: s.urn for s in subjects}
        for message, resource in rule.run(subjects, args.get_config()):
            report_violation(message, urns.get(resource) if resource else None)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        enforcement_level=_LEVELS[rule.enforcement],
        validate=validate,
        config_schema=_config_schema(rule.settings),
    )


PolicyPack(name="inferstack", policies=[_policy(rule) for rule in RULES])
