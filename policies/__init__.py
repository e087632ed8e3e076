"""inferstack's policy rules, shared by the CrossGuard pack and `inferstack plan`."""

from inferstack.policies.base import Rule, Subject, Violation
from inferstack.policies.rules import RULES, evaluate

__all__ = ["RULES", "Rule", "Subject", "Violation", "evaluate"]
