"""IAM roles and inline role policies in moto."""

from __future__ import annotations

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


def _role(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = auto_name(a)
    role = m.client("iam").create_role(
        **params(
            RoleName=name,
            AssumeRolePolicyDocument=i["assumeRolePolicy"],
            Description=i.get("description"),
            MaxSessionDuration=boto(i.get("maxSessionDuration")),
            Tags=tag_list(i.get("tags")),
        )
    )["Role"]
    return name, {"name": name, "arn": role["Arn"], "uniqueId": role["RoleId"]}


def _role_policy(m: Moto, a: Args) -> Result:
    name = auto_name(a)
    m.client("iam").put_role_policy(
        RoleName=a.inputs["role"], PolicyName=name, PolicyDocument=a.inputs["policy"]
    )
    return f"{a.inputs['role']}:{name}", {"name": name}


MIRRORS: dict[str, Mirror] = {
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
}
