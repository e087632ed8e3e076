"""The API's stage: JSON access logs, execution logs, throttling, X-Ray, the account's
CloudWatch logging role, and the usage plan with its API key."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.naming import API_KEY, API_STAGE, USAGE_PLAN, fit
from inferstack.components.aws.policies import log_delivery_policy
from inferstack.components.aws.roles import service_role
from inferstack.components.aws.rules import aws_options

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


def gateway_stage(
    name: str,
    ctx: AwsContext,
    api: aws.apigateway.RestApi,
    deployment: aws.apigateway.Deployment,
    *,
    access_log_group_arn: pulumi.Input[str],
    key_arn: pulumi.Input[str] | None,
    manage_account_logging: bool,
    parent: pulumi.Resource,
) -> aws.apigateway.Stage:
    """The stage serving `deployment`, with access logs, tracing and throttling; with
    `manage_account_logging`, the account's CloudWatch logging role too."""
    account = account_logging(name, ctx, parent) if manage_account_logging else None
    execution_logs = manage_account_logging or aws_options(ctx.spec).execution_logging
    stage = aws.apigateway.Stage(
        f"{name}-stage",
        rest_api=api.id,
        deployment=deployment.id,
        stage_name=fit(API_STAGE, ctx.names.stage),
        access_log_settings={
            "destination_arn": access_log_group_arn,
            "format": ACCESS_LOG_FORMAT,
        },
        xray_tracing_enabled=True,
        tags=ctx.tags,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[account] if account else []),
    )
    _throttling(name, ctx, api, stage, key_arn, execution_logs, parent)
    return stage


def _throttling(
    name: str,
    ctx: AwsContext,
    api: aws.apigateway.RestApi,
    stage: aws.apigateway.Stage,
    key_arn: pulumi.Input[str] | None,
    execution_logs: bool,
    parent: pulumi.Resource,
) -> None:
    """Every method's rate limit, burst, metrics and, when the account has a logging role
    (`execution_logs`), error-level execution logging."""
    gateway = ctx.spec.gateway
    # Execution logging (logging_level below) writes to a group API Gateway would
    # otherwise create itself: unencrypted and kept forever. Create it first.
    execution_group = aws.cloudwatch.LogGroup(
        f"{name}-execution-logs",
        name=pulumi.Output.concat("API-Gateway-Execution-Logs_", api.id, "/", ctx.names.stage),
        retention_in_days=ctx.spec.observability.log_retention_days,
        kms_key_id=key_arn,
        tags=ctx.tags,
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.apigateway.MethodSettings(
        f"{name}-throttling",
        rest_api=api.id,
        stage_name=stage.stage_name,
        method_path="*/*",
        settings={
            "throttling_rate_limit": gateway.rate_limit_rps,
            "throttling_burst_limit": gateway.burst,
            "metrics_enabled": True,
            # API Gateway refuses a logging level while the account has no logging role
            # ("CloudWatch Logs role ARN must be set in account settings").
            "logging_level": "ERROR" if execution_logs else "OFF",
            "data_trace_enabled": False,
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[execution_group]),
    )


def account_logging(name: str, ctx: AwsContext, parent: pulumi.Resource) -> aws.apigateway.Account:
    """API Gateway's account-wide CloudWatch logging role (one per account and region)."""
    policy = ctx.account_id.apply(lambda a: log_delivery_policy(ctx.partition, ctx.region, a))
    logging = service_role(f"{name}-logging", "apigateway.amazonaws.com", policy, parent, ctx)
    return aws.apigateway.Account(
        f"{name}-account",
        cloudwatch_role_arn=logging.role.arn,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[logging.grant]),
    )


def usage_plan(
    name: str,
    ctx: AwsContext,
    api_id: pulumi.Output[str],
    stage: pulumi.Output[str],
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """A random API key in a usage plan with the stage's throttle and daily quota; the
    key's value, a secret."""
    child = pulumi.ResourceOptions(parent=parent)
    gateway = ctx.spec.gateway
    secret = random.RandomPassword(f"{name}-key-value", length=40, special=False, opts=child)
    key = aws.apigateway.ApiKey(
        f"{name}-key",
        name=fit(API_KEY, ctx.names.api, "default"),
        value=secret.result,
        enabled=True,
        tags=ctx.tags,
        opts=child,
    )
    plan = aws.apigateway.UsagePlan(
        f"{name}-usage-plan",
        name=fit(USAGE_PLAN, ctx.names.api, "plan"),
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
