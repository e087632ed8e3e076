"""inferstack's policy rules, shared by the CrossGuard pack and `inferstack plan`."""

from inferstack.policies.rules import RULES, Rule, Subject, Violation, evaluate

__all__ = ["RULES", "Rule", "Subject", "Violation", "evaluate"]
