"""One way to make an IAM role that an AWS service assumes, with its inline policy."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.naming import IAM_ROLE, IAM_ROLE_POLICY, auto_logical
from inferstack.components.aws.policies import Policy, service_trust


@dataclass(frozen=True)
class ServiceRole:
    """A role and the inline policy that grants it its permissions."""

    role: aws.iam.Role
    """The role (`{name}-role`)."""
    grant: aws.iam.RolePolicy
    """Its inline policy (`{name}-policy`); depend on it before the role is used."""


def service_role(
    name: str,
    service_principal: str,
    policy_document: pulumi.Input[Policy],
    parent: pulumi.Resource,
    ctx: AwsContext,
    *,
    description: str | None = None,
    max_session_duration: int | None = None,
) -> ServiceRole:
    """Role `{name}-role` that `service_principal` (e.g. `sagemaker.amazonaws.com`) may
    assume on behalf of this account only, with `policy_document` inline as
    `{name}-policy`; both children of `parent`, the role tagged with the context's tags."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        auto_logical(IAM_ROLE, f"{name}-role"),
        description=description,
        assume_role_policy=ctx.account_id.apply(
            lambda account: json.dumps(service_trust(service_principal, account))
        ),
        max_session_duration=max_session_duration,
        tags=ctx.tags,
        opts=child,
    )
    grant = aws.iam.RolePolicy(
        auto_logical(IAM_ROLE_POLICY, f"{name}-policy"),
        role=role.id,
        policy=pulumi.Output.from_input(policy_document).apply(json.dumps),
        opts=child,
    )
    return ServiceRole(role=role, grant=grant)
