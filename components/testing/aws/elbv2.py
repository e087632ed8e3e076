"""Application Load Balancers, target groups and listeners in moto (the instance group)."""

from __future__ import annotations

from typing import Any

from inferstack.components.testing.aws.fallback import auto_name
from inferstack.components.testing.aws.shapes import (
    Args,
    Mirror,
    Moto,
    Result,
    boto,
    params,
    tag_list,
)


def _suffix(arn: str, marker: str) -> str:
    """What CloudWatch names a load balancer or target group by: the ARN after `marker`."""
    return arn.split(marker, 1)[1]


def _load_balancer(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = i.get("name") or auto_name(a)
    client = m.client("elbv2")
    balancer = client.create_load_balancer(
        **params(
            Name=name,
            Subnets=i.get("subnets"),
            SecurityGroups=i.get("securityGroups"),
            Scheme="internal" if i.get("internal") else "internet-facing",
            Type=i.get("loadBalancerType", "application"),
            Tags=tag_list(i.get("tags")) or None,
        )
    )["LoadBalancers"][0]
    arn = balancer["LoadBalancerArn"]
    attributes = {
        "routing.http.drop_invalid_header_fields.enabled": i.get("dropInvalidHeaderFields"),
        "idle_timeout.timeout_seconds": i.get("idleTimeout"),
    }
    client.modify_load_balancer_attributes(
        LoadBalancerArn=arn,
        Attributes=[
            {"Key": k, "Value": str(boto(v)).lower()}
            for k, v in attributes.items()
            if v is not None
        ],
    )
    return arn, {
        "arn": arn,
        "arnSuffix": _suffix(arn, ":loadbalancer/"),
        "dnsName": balancer["DNSName"],
        "name": name,
        "zoneId": balancer.get("CanonicalHostedZoneId", ""),
    }


def _health_check(check: dict[str, Any]) -> dict[str, Any]:
    return params(
        HealthCheckEnabled=check.get("enabled"),
        HealthCheckPath=check.get("path"),
        HealthCheckPort=check.get("port"),
        HealthCheckProtocol=check.get("protocol"),
        HealthCheckIntervalSeconds=boto(check.get("interval")),
        HealthCheckTimeoutSeconds=boto(check.get("timeout")),
        HealthyThresholdCount=boto(check.get("healthyThreshold")),
        UnhealthyThresholdCount=boto(check.get("unhealthyThreshold")),
        Matcher={"HttpCode": check["matcher"]} if check.get("matcher") else None,
    )


def _target_group(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = i.get("name") or auto_name(a)
    client = m.client("elbv2")
    group = client.create_target_group(
        **params(
            Name=name,
            Protocol=i.get("protocol"),
            Port=boto(i.get("port")),
            VpcId=i.get("vpcId"),
            TargetType=i.get("targetType"),
            Tags=tag_list(i.get("tags")) or None,
            **_health_check(i.get("healthCheck") or {}),
        )
    )["TargetGroups"][0]
    arn = group["TargetGroupArn"]
    if i.get("deregistrationDelay") is not None:
        client.modify_target_group_attributes(
            TargetGroupArn=arn,
            Attributes=[
                {
                    "Key": "deregistration_delay.timeout_seconds",
                    "Value": str(boto(i["deregistrationDelay"])),
                }
            ],
        )
    return arn, {"arn": arn, "arnSuffix": arn.rsplit(":", 1)[1], "name": name}


def _listener(m: Moto, a: Args) -> Result:
    i = a.inputs
    listener = m.client("elbv2").create_listener(
        **params(
            LoadBalancerArn=i["loadBalancerArn"],
            Port=boto(i.get("port")),
            Protocol=i.get("protocol"),
            DefaultActions=[
                params(Type=d["type"], TargetGroupArn=d.get("targetGroupArn"))
                for d in i.get("defaultActions") or []
            ],
        )
    )["Listeners"][0]
    return listener["ListenerArn"], {"arn": listener["ListenerArn"]}


def _listener_rule(m: Moto, a: Args) -> Result:
    i = a.inputs
    conditions = [
        {"Field": "path-pattern", "PathPatternConfig": {"Values": c["pathPattern"]["values"]}}
        for c in i.get("conditions") or []
        if c.get("pathPattern")
    ]
    transforms = [
        {
            "Type": t["type"],
            "UrlRewriteConfig": {
                "Rewrites": [
                    {
                        "Regex": t["urlRewriteConfig"]["rewrite"]["regex"],
                        "Replace": t["urlRewriteConfig"]["rewrite"]["replace"],
                    }
                ]
            },
        }
        for t in i.get("transforms") or []
        if t.get("urlRewriteConfig")
    ]
    rule = m.client("elbv2").create_rule(
        **params(
            ListenerArn=i["listenerArn"],
            Priority=boto(i.get("priority")),
            Conditions=conditions,
            Actions=[
                params(Type=d["type"], TargetGroupArn=d.get("targetGroupArn"))
                for d in i.get("actions") or []
            ],
            Transforms=transforms or None,
        )
    )["Rules"][0]
    return rule["RuleArn"], {"arn": rule["RuleArn"]}


MIRRORS: dict[str, Mirror] = {
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _listener,
    "aws:lb/listenerRule:ListenerRule": _listener_rule,
}
