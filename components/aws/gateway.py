"""API Gateway REST API in front of the endpoint: SageMaker service integration (no
Lambda), API keys and a usage plan or Cognito-JWT/IAM auth, JSON access logs, stage
throttling, an optional WAF web ACL.

Each concern is a helper beside this module, declaring its resources as children of
the `ApiGateway`: the route and its invoke role (`gateway_route`), the stage, its logs,
throttling and usage plan (`gateway_stage`), the WAF (`gateway_waf`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.gateway_backend import (
    GatewayBackend,
    SageMakerBackend,
    load_balancer_route,
)
from inferstack.components.aws.gateway_route import (
    BINARY_MEDIA_TYPES,
    invocations_route,
    route_deployment,
)
from inferstack.components.aws.gateway_stage import gateway_stage, usage_plan
from inferstack.components.aws.gateway_waf import web_acl
from inferstack.components.aws.naming import REST_API, fit
from inferstack.components.aws.policies import api_resource_policy
from inferstack.components.aws.rules import aws_options


@dataclass(frozen=True)
class ApiGatewayArgs:
    """The endpoint the API fronts and where its logs go."""

    ctx: AwsContext
    """The deployment's spec (gateway settings), names, tags, region and account."""
    backend: GatewayBackend
    """What POST /invocations reaches: a SageMaker endpoint or the instance group's load
    balancer (aws/gateway_backend.py)."""
    access_log_group_arn: pulumi.Input[str]
    """The log group the stage writes JSON access logs to."""
    key_arn: pulumi.Input[str] | None = None
    """The stack's KMS key, for the execution log group (None: CloudWatch's own key)."""
    manage_account_logging: bool | None = None
    """Set API Gateway's account-wide CloudWatch logging role (one per account and region);
    None: the spec's `targets.aws.manage_account_logging` (off by default)."""


def resource_policy(ctx: AwsContext) -> pulumi.Output[str]:
    """Who may invoke the API: the allowed CIDRs; with IAM auth, this account's principals."""
    cidrs = ctx.spec.gateway.allowed_cidrs
    if ctx.spec.gateway.auth != "iam":
        return pulumi.Output.from_input(json.dumps(api_resource_policy(cidrs)))
    return ctx.account_id.apply(
        lambda a: json.dumps(api_resource_policy(cidrs, f"arn:{ctx.partition}:iam::{a}:root"))
    )


def manages_account_logging(ctx: AwsContext, override: bool | None = None) -> bool:
    """Whether this stack sets the account's API Gateway logging role: `override` when
    given, else the spec's `targets.aws.manage_account_logging`."""
    return aws_options(ctx.spec).manage_account_logging if override is None else override


class ApiGateway(pulumi.ComponentResource):
    """A regional REST API: POST /invocations goes straight to SageMaker InvokeEndpoint, or
    through a VPC link to the instance group's load balancer."""

    url: pulumi.Output[str]
    """Base URL of the stage (POST {url}/invocations)."""
    api_key: pulumi.Output[str]
    """The caller API key, a secret ("" unless auth is api_key)."""
    rest_api_id: pulumi.Output[str]
    """The REST API's id."""

    def __init__(
        self, name: str, args: ApiGatewayArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:ApiGateway", name, None, opts)
        ctx = args.ctx
        spec = ctx.spec
        asynchronous = aws_options(spec).mode == "async"
        policy = resource_policy(ctx)
        api = aws.apigateway.RestApi(
            f"{name}-api",
            name=fit(REST_API, ctx.names.api),
            description=f"inferstack: {spec.model.name} ({spec.environment})",
            endpoint_configuration={"types": "REGIONAL"},
            api_key_source="HEADER",
            binary_media_types=list(BINARY_MEDIA_TYPES),
            policy=policy,
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        backend = args.backend
        if isinstance(backend, SageMakerBackend):
            route = invocations_route(
                name,
                ctx,
                api,
                endpoint_name=backend.endpoint_name,
                endpoint_arn=backend.endpoint_arn,
                asynchronous=asynchronous,
                parent=self,
            )
        else:
            route = load_balancer_route(name, ctx, api, backend, self)
        deployment = route_deployment(name, ctx, api, route, policy, asynchronous, self)
        stage = gateway_stage(
            name,
            ctx,
            api,
            deployment,
            access_log_group_arn=args.access_log_group_arn,
            key_arn=args.key_arn,
            manage_account_logging=manages_account_logging(ctx, args.manage_account_logging),
            parent=self,
        )
        self.api_key = pulumi.Output.secret("")
        if spec.gateway.auth == "api_key":
            self.api_key = usage_plan(name, ctx, api.id, stage.stage_name, self)
        if spec.gateway.waf:
            web_acl(name, ctx, stage.arn, self)
        self.url = stage.invoke_url
        self.rest_api_id = api.id
        self.register_outputs(
            {"url": self.url, "api_key": self.api_key, "rest_api_id": self.rest_api_id}
        )
