"""API Gateway REST API in front of the endpoint: SageMaker service integration (no
Lambda), API keys and a usage plan or Cognito-JWT/IAM auth, JSON access logs, stage
throttling, an optional WAF web ACL."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.policies import (
    api_resource_policy,
    invoke_policy,
    log_delivery_policy,
    service_trust,
)
from inferstack.components.aws.rules import aws_options
from inferstack.components.spec.models import DeploymentSpec

ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "apiKeyId": "$context.identity.apiKeyId",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "resourcePath": "$context.resourcePath",
        "status": "$context.status",
        "protocol": "$context.protocol",
        "responseLength": "$context.responseLength",
        "latencyMs": "$context.responseLatency",
        "integrationLatencyMs": "$context.integration.latency",
        "integrationStatus": "$context.integration.status",
        "wafStatus": "$context.waf.status",
    }
)
# SageMaker answers these; API Gateway maps the integration status onto them.
RESPONSES = {"200": None, "400": r"4\d{2}", "500": r"5\d{2}"}
# Passed through to InvokeEndpoint (and the async input location for async endpoints).
FORWARDED_HEADERS = (
    "Content-Type",
    "Accept",
    "X-Amzn-SageMaker-Custom-Attributes",
    "X-Amzn-SageMaker-Target-Variant",
    "X-Amzn-SageMaker-InputLocation",
)


def method_auth(spec: DeploymentSpec) -> dict[str, Any]:
    """`Method` arguments for the spec's auth mode (without the authorizer id)."""
    return {
        "api_key": {"authorization": "NONE", "api_key_required": True},
        "jwt": {"authorization": "COGNITO_USER_POOLS", "api_key_required": False},
        "iam": {"authorization": "AWS_IAM", "api_key_required": False},
        "none": {"authorization": "NONE", "api_key_required": False},
    }[spec.gateway.auth]


def cognito_pool_arn(issuer: str, partition: str, account_id: str) -> str:
    """The user pool ARN of a Cognito issuer URL."""
    host, _, pool = issuer.removeprefix("https://").partition("/")
    region = host.split(".")[1]
    return f"arn:{partition}:cognito-idp:{region}:{account_id}:userpool/{pool}"


def integration_uri(partition: str, region: str, endpoint: str, asynchronous: bool) -> str:
    """The AWS-service integration URI of InvokeEndpoint (or InvokeEndpointAsync)."""
    action = "async-invocations" if asynchronous else "invocations"
    return (
        f"arn:{partition}:apigateway:{region}:runtime.sagemaker:path/endpoints/{endpoint}/{action}"
    )


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


class ApiGateway(pulumi.ComponentResource):
    """A regional REST API: POST /invocations goes straight to SageMaker InvokeEndpoint."""

    url: pulumi.Output[str]
    """Base URL of the stage (POST {url}/invocations)."""
    api_key: pulumi.Output[str]
    """The caller API key, a secret ("" unless auth is api_key)."""
    rest_api_id: pulumi.Output[str]
    """The REST API's id."""

    def __init__(
        self,
        name: str,
        ctx: AwsContext,
        *,
        endpoint_name: pulumi.Input[str],
        endpoint_arn: pulumi.Input[str],
        access_log_group_arn: pulumi.Input[str],
        manage_account_logging: bool = True,
        key_arn: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("inferstack:aws:ApiGateway", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        spec, names = ctx.spec, ctx.names
        asynchronous = aws_options(spec).mode == "async"
        cidrs = spec.gateway.allowed_cidrs
        resource_policy: pulumi.Output[str] = pulumi.Output.from_input(
            json.dumps(api_resource_policy(cidrs))
        )
        if spec.gateway.auth == "iam":
            resource_policy = ctx.account_id.apply(
                lambda a: json.dumps(
                    api_resource_policy(cidrs, f"arn:{ctx.partition}:iam::{a}:root")
                )
            )
        api = aws.apigateway.RestApi(
            f"{name}-api",
            name=names.api,
            description=f"inferstack: {spec.model.name} ({spec.environment})",
            endpoint_configuration={"types": "REGIONAL"},
            api_key_source="HEADER",
            policy=resource_policy,
            tags=ctx.tags,
            opts=child,
        )
        invoke_role = aws.iam.Role(
            f"{name}-invoke-role",
            assume_role_policy=ctx.account_id.apply(
                lambda a: json.dumps(service_trust("apigateway.amazonaws.com", a))
            ),
            tags=ctx.tags,
            opts=child,
        )
        invoke_grant = aws.iam.RolePolicy(
            f"{name}-invoke-policy",
            role=invoke_role.id,
            policy=pulumi.Output.from_input(endpoint_arn).apply(
                lambda arn: json.dumps(invoke_policy(arn, asynchronous=asynchronous))
            ),
            opts=child,
        )
        resource = aws.apigateway.Resource(
            f"{name}-invocations",
            rest_api=api.id,
            parent_id=api.root_resource_id,
            path_part="invocations",
            opts=child,
        )
        auth = method_auth(spec)
        authorizer = None
        if spec.gateway.auth == "jwt" and spec.gateway.jwt is not None:
            issuer = spec.gateway.jwt.issuer
            authorizer = aws.apigateway.Authorizer(
                f"{name}-jwt",
                rest_api=api.id,
                type="COGNITO_USER_POOLS",
                identity_source="method.request.header.Authorization",
                provider_arns=[
                    ctx.account_id.apply(lambda a: cognito_pool_arn(issuer, ctx.partition, a))
                ],
                opts=child,
            )
        method = aws.apigateway.Method(
            f"{name}-post",
            rest_api=api.id,
            resource_id=resource.id,
            http_method="POST",
            authorizer_id=authorizer.id if authorizer else None,
            request_parameters={f"method.request.header.{h}": False for h in FORWARDED_HEADERS},
            opts=child,
            **auth,
        )
        uri = pulumi.Output.from_input(endpoint_name).apply(
            lambda e: integration_uri(ctx.partition, ctx.region, e, asynchronous)
        )
        integration = aws.apigateway.Integration(
            f"{name}-sagemaker",
            rest_api=api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            type="AWS",
            integration_http_method="POST",
            uri=uri,
            credentials=invoke_role.arn,
            passthrough_behavior="WHEN_NO_MATCH",
            timeout_milliseconds=29000,
            request_parameters={
                f"integration.request.header.{h}": f"method.request.header.{h}"
                for h in FORWARDED_HEADERS
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[invoke_grant]),
        )
        responses = []
        for status, pattern in RESPONSES.items():
            method_response = aws.apigateway.MethodResponse(
                f"{name}-response-{status}",
                rest_api=api.id,
                resource_id=resource.id,
                http_method=method.http_method,
                status_code=status,
                opts=child,
            )
            responses.append(
                aws.apigateway.IntegrationResponse(
                    f"{name}-integration-{status}",
                    rest_api=api.id,
                    resource_id=resource.id,
                    http_method=method.http_method,
                    status_code=method_response.status_code,
                    selection_pattern=pattern,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[integration]),
                )
            )
        shape = {
            "auth": auth,
            "headers": FORWARDED_HEADERS,
            "async": asynchronous,
            "responses": RESPONSES,
        }
        # A REST API serves what its last deployment captured: a changed resource policy
        # (allowed CIDRs), integration target or role, or authorizer takes effect only
        # after a redeployment, so all of them are part of the trigger.
        redeployment = pulumi.Output.all(
            resource_policy,
            uri,
            invoke_role.arn,
            authorizer.id if authorizer else "",
        ).apply(
            lambda live: hashlib.sha256(
                json.dumps({**shape, "live": live}, sort_keys=True).encode()
            ).hexdigest()
        )
        deployment = aws.apigateway.Deployment(
            f"{name}-deployment",
            rest_api=api.id,
            triggers={"redeployment": redeployment},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[method, integration, *responses]),
        )
        account = self._account_logging(name, ctx) if manage_account_logging else None
        stage = aws.apigateway.Stage(
            f"{name}-stage",
            rest_api=api.id,
            deployment=deployment.id,
            stage_name=names.stage,
            access_log_settings={
                "destination_arn": access_log_group_arn,
                "format": ACCESS_LOG_FORMAT,
            },
            xray_tracing_enabled=True,
            tags=ctx.tags,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[account] if account else []),
        )
        # Execution logging (logging_level below) writes to a group API Gateway would
        # otherwise create itself: unencrypted and kept forever. Create it first.
        execution_logs = aws.cloudwatch.LogGroup(
            f"{name}-execution-logs",
            name=pulumi.Output.concat("API-Gateway-Execution-Logs_", api.id, "/", names.stage),
            retention_in_days=spec.observability.log_retention_days,
            kms_key_id=key_arn,
            tags=ctx.tags,
            opts=child,
        )
        aws.apigateway.MethodSettings(
            f"{name}-throttling",
            rest_api=api.id,
            stage_name=stage.stage_name,
            method_path="*/*",
            settings={
                "throttling_rate_limit": spec.gateway.rate_limit_rps,
                "throttling_burst_limit": spec.gateway.burst,
                "metrics_enabled": True,
                "logging_level": "ERROR",
                "data_trace_enabled": False,
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[execution_logs]),
        )
        self.api_key = pulumi.Output.secret("")
        if spec.gateway.auth == "api_key":
            self.api_key = self._usage_plan(name, ctx, api.id, stage.stage_name)
        if spec.gateway.waf:
            acl = aws.wafv2.WebAcl(
                f"{name}-waf",
                name=f"{names.api}-waf",
                scope="REGIONAL",
                default_action={"allow": {}},
                rules=waf_rules(spec),
                visibility_config=_visibility(f"{names.api}-waf"),
                tags=ctx.tags,
                opts=child,
            )
            aws.wafv2.WebAclAssociation(
                f"{name}-waf-association", resource_arn=stage.arn, web_acl_arn=acl.arn, opts=child
            )
        self.url = stage.invoke_url
        self.rest_api_id = api.id
        self.register_outputs(
            {"url": self.url, "api_key": self.api_key, "rest_api_id": self.rest_api_id}
        )

    def _usage_plan(
        self, name: str, ctx: AwsContext, api_id: pulumi.Output[str], stage: pulumi.Output[str]
    ) -> pulumi.Output[str]:
        child = pulumi.ResourceOptions(parent=self)
        gateway = ctx.spec.gateway
        secret = random.RandomPassword(f"{name}-key-value", length=40, special=False, opts=child)
        key = aws.apigateway.ApiKey(
            f"{name}-key",
            name=f"{ctx.names.api}-default",
            value=secret.result,
            enabled=True,
            tags=ctx.tags,
            opts=child,
        )
        plan = aws.apigateway.UsagePlan(
            f"{name}-usage-plan",
            name=f"{ctx.names.api}-plan",
            api_stages=[{"api_id": api_id, "stage": stage}],
            throttle_settings={"rate_limit": gateway.rate_limit_rps, "burst_limit": gateway.burst},
            quota_settings={"limit": gateway.quota_per_day, "period": "DAY"}
            if gateway.quota_per_day
            else None,
            tags=ctx.tags,
            opts=child,
        )
        aws.apigateway.UsagePlanKey(
            f"{name}-usage-plan-key",
            key_id=key.id,
            key_type="API_KEY",
            usage_plan_id=plan.id,
            opts=child,
        )
        return pulumi.Output.secret(secret.result)

    def _account_logging(self, name: str, ctx: AwsContext) -> aws.apigateway.Account:
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-logging-role",
            assume_role_policy=ctx.account_id.apply(
                lambda a: json.dumps(service_trust("apigateway.amazonaws.com", a))
            ),
            tags=ctx.tags,
            opts=child,
        )
        grant = aws.iam.RolePolicy(
            f"{name}-logging-policy",
            role=role.id,
            policy=ctx.account_id.apply(
                lambda a: json.dumps(log_delivery_policy(ctx.partition, ctx.region, a))
            ),
            opts=child,
        )
        return aws.apigateway.Account(
            f"{name}-account",
            cloudwatch_role_arn=role.arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[grant]),
        )
