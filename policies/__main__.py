"""The inferstack CrossGuard policy pack.

`pulumi preview --policy-pack policies` (or `pulumi up`) runs these rules on the
real engine's view of the stack; `inferstack plan` runs the same rules offline.
"""

from pulumi_policy import (
    EnforcementLevel,
    PolicyPack,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from inferstack.policies.base import Rule, Subject
from inferstack.policies.rules import RULES

_LEVELS = {"mandatory": EnforcementLevel.MANDATORY, "advisory": EnforcementLevel.ADVISORY}


def _policy(rule: Rule) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        subjects = [Subject(r.resource_type, r.name, r.props, r.urn) for r in args.resources]
        urns = {s.name: s.urn for s in subjects}
        for message, resource in rule.check(subjects):
            report_violation(message, urns.get(resource) if resource else None)

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        enforcement_level=_LEVELS[rule.enforcement],
        validate=validate,
    )


PolicyPack(name="inferstack", policies=[_policy(rule) for rule in RULES])
