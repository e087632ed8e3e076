"""WAF (v2) web ACLs and their associations in moto."""

from __future__ import annotations

from inferstack.components.testing.aws.fallback import auto_name
from inferstack.components.testing.aws.shapes import Args, Mirror, Moto, Result, boto, tag_list


def _web_acl(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = i.get("name") or auto_name(a)
    summary = m.client("wafv2").create_web_acl(
        Name=name,
        Scope=i["scope"],
        DefaultAction=boto(i["defaultAction"]),
        Rules=boto(i.get("rules") or []),
        VisibilityConfig=boto(i["visibilityConfig"]),
        Tags=tag_list(i.get("tags")),
    )["Summary"]
    return summary["Id"], {"name": name, "arn": summary["ARN"], "lockToken": summary["LockToken"]}


def _web_acl_association(m: Moto, a: Args) -> Result:
    i = a.inputs
    m.client("wafv2").associate_web_acl(WebACLArn=i["webAclArn"], ResourceArn=i["resourceArn"])
    return f"{i['webAclArn']},{i['resourceArn']}", {}


MIRRORS: dict[str, Mirror] = {
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    "aws:wafv2/webAclAssociation:WebAclAssociation": _web_acl_association,
}
