"""The API's optional WAF web ACL: AWS managed rule groups and a per-IP rate rule."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.naming import WAF_METRIC, WEB_ACL, fit
from inferstack.components.spec.models import DeploymentSpec


def waf_rules(spec: DeploymentSpec) -> list[aws.wafv2.WebAclRuleArgsDict]:
    """AWS managed rule groups and a per-IP rate rule (5-minute window)."""

    def managed(
        priority: int, group: str, overrides: tuple[str, ...] = ()
    ) -> aws.wafv2.WebAclRuleArgsDict:
        statement: aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgsDict = {
            "vendor_name": "AWS",
            "name": group,
        }
        if overrides:
            # Inference payloads exceed the common rule set's 8 KB body limit: count only.
            statement["rule_action_overrides"] = [
                {"name": o, "action_to_use": {"count": {}}} for o in overrides
            ]
        return {
            "name": group,
            "priority": priority,
            "override_action": {"none": {}},
            "statement": {"managed_rule_group_statement": statement},
            "visibility_config": _visibility(group),
        }

    rate: aws.wafv2.WebAclRuleArgsDict = {
        "name": "per-ip-rate",
        "priority": 10,
        "action": {"block": {}},
        "statement": {
            "rate_based_statement": {
                "limit": max(100, int(spec.gateway.rate_limit_rps * 300)),
                "aggregate_key_type": "IP",
            }
        },
        "visibility_config": _visibility("per-ip-rate"),
    }
    return [
        managed(1, "AWSManagedRulesCommonRuleSet", ("SizeRestrictions_BODY",)),
        managed(2, "AWSManagedRulesKnownBadInputsRuleSet"),
        managed(3, "AWSManagedRulesAmazonIpReputationList"),
        rate,
    ]


def _visibility(metric: str) -> aws.wafv2.WebAclVisibilityConfigArgsDict:
    # Structurally the same as WebAclRuleVisibilityConfigArgsDict, so rules take it too.
    return {
        "cloudwatch_metrics_enabled": True,
        "metric_name": metric,
        "sampled_requests_enabled": True,
    }


def web_acl(
    name: str, ctx: AwsContext, stage_arn: pulumi.Input[str], parent: pulumi.Resource
) -> aws.wafv2.WebAcl:
    """A regional web ACL with `waf_rules`, associated with the stage."""
    child = pulumi.ResourceOptions(parent=parent)
    acl_name = fit(WEB_ACL, ctx.names.api, "waf")
    acl = aws.wafv2.WebAcl(
        f"{name}-waf",
        name=acl_name,
        scope="REGIONAL",
        default_action={"allow": {}},
        rules=waf_rules(ctx.spec),
        visibility_config=_visibility(fit(WAF_METRIC, acl_name)),
        tags=ctx.tags,
        opts=child,
    )
    aws.wafv2.WebAclAssociation(
        f"{name}-waf-association", resource_arn=stage_arn, web_acl_arn=acl.arn, opts=child
    )
    return acl
