"""The API's one route, POST /invocations, straight to SageMaker InvokeEndpoint: its
integration credentials, auth, method, integration, responses and the deployment that
captures them."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.naming import AUTHORIZER, auto_logical
from inferstack.components.aws.policies import invoke_policy
from inferstack.components.aws.roles import ServiceRole, service_role
from inferstack.components.spec.models import DeploymentSpec

# SageMaker answers these; API Gateway maps the integration status onto them.
RESPONSES = {"200": None, "400": r"4\d{2}", "500": r"5\d{2}"}
# The bodies the runtime's /invocations reads (runtime/http.py: JSON, CSV) go through as
# they are: no mapping template, no content handling (passthrough). API Gateway re-encodes
# a body whose type is not a binary media type as UTF-8 text, so CSV (any bytes a client
# sends, e.g. Latin-1 fields) is declared binary and reaches the model byte for byte; JSON
# is UTF-8 by definition (RFC 8259). A binary body (octet-stream) reaches the runtime
# intact too and gets its 415 naming the type, not a re-encoded body. Answers follow the
# same rule by their type.
BINARY_MEDIA_TYPES = ("text/csv", "application/octet-stream")
# InvokeEndpoint's answer headers, given back to the caller: without the Content-Type
# mapping API Gateway labels every answer application/json, CSV ones included.
RETURNED_HEADERS = (
    "Content-Type",
    "X-Amzn-Invoked-Production-Variant",
    "X-Amzn-SageMaker-Custom-Attributes",
)
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


@dataclass(frozen=True)
class Route:
    """POST /invocations, declared: what the deployment waits for and captures."""

    method: aws.apigateway.Method
    """The POST method on /invocations."""
    integration: aws.apigateway.Integration
    """The SageMaker service integration."""
    responses: tuple[aws.apigateway.IntegrationResponse, ...]
    """One integration response per status in RESPONSES."""
    uri: pulumi.Output[str]
    """The integration URI (InvokeEndpoint or InvokeEndpointAsync of the endpoint)."""
    credentials: ServiceRole | None
    """The role API Gateway invokes the endpoint with (None: a private integration)."""
    authorizer: aws.apigateway.Authorizer | None
    """The Cognito authorizer (jwt auth only)."""
    connection: tuple[pulumi.Input[str], ...] = ()
    """What a private integration reaches through (the VPC link, the load balancer): a
    replaced VPC link keeps the URI, and the stage must still redeploy onto the new one."""


def invoke_role(
    name: str,
    ctx: AwsContext,
    endpoint_arn: pulumi.Input[str],
    asynchronous: bool,
    parent: pulumi.Resource,
) -> ServiceRole:
    """The integration's credentials: API Gateway may invoke this one endpoint only."""
    policy = pulumi.Output.from_input(endpoint_arn).apply(
        lambda arn: invoke_policy(arn, asynchronous=asynchronous)
    )
    return service_role(f"{name}-invoke", "apigateway.amazonaws.com", policy, parent, ctx)


def invocations_route(
    name: str,
    ctx: AwsContext,
    api: aws.apigateway.RestApi,
    *,
    endpoint_name: pulumi.Input[str],
    endpoint_arn: pulumi.Input[str],
    asynchronous: bool,
    parent: pulumi.Resource,
) -> Route:
    """POST /invocations on `api`, integrated with the endpoint through its invoke role."""
    child = pulumi.ResourceOptions(parent=parent)
    credentials = invoke_role(name, ctx, endpoint_arn, asynchronous, parent)
    resource = aws.apigateway.Resource(
        f"{name}-invocations",
        rest_api=api.id,
        parent_id=api.root_resource_id,
        path_part="invocations",
        opts=child,
    )
    authorizer = jwt_authorizer(name, ctx, api, parent)
    method = aws.apigateway.Method(
        f"{name}-post",
        rest_api=api.id,
        resource_id=resource.id,
        http_method="POST",
        authorizer_id=authorizer.id if authorizer else None,
        request_parameters={f"method.request.header.{h}": False for h in FORWARDED_HEADERS},
        opts=child,
        **method_auth(ctx.spec),
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
        credentials=credentials.role.arn,
        # No request templates and no content_handling: every body passes through as is.
        passthrough_behavior="WHEN_NO_MATCH",
        timeout_milliseconds=29000,
        request_parameters={
            f"integration.request.header.{h}": f"method.request.header.{h}"
            for h in FORWARDED_HEADERS
        },
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[credentials.grant]),
    )
    responses = _responses(name, api, resource, method, integration, parent)
    return Route(method, integration, responses, uri, credentials, authorizer)


def jwt_authorizer(
    name: str, ctx: AwsContext, api: aws.apigateway.RestApi, parent: pulumi.Resource
) -> aws.apigateway.Authorizer | None:
    """The Cognito user pool authorizer of jwt auth; None for other auth modes."""
    jwt = ctx.spec.gateway.jwt
    if ctx.spec.gateway.auth != "jwt" or jwt is None:
        return None
    issuer = jwt.issuer
    return aws.apigateway.Authorizer(
        auto_logical(AUTHORIZER, f"{name}-jwt"),
        rest_api=api.id,
        type="COGNITO_USER_POOLS",
        identity_source="method.request.header.Authorization",
        provider_arns=[ctx.account_id.apply(lambda a: cognito_pool_arn(issuer, ctx.partition, a))],
        opts=pulumi.ResourceOptions(parent=parent),
    )


def returned_headers() -> dict[str, str]:
    """Integration response `response_parameters`: each of RETURNED_HEADERS from
    SageMaker's answer onto the method response."""
    return {
        f"method.response.header.{h}": f"integration.response.header.{h}" for h in RETURNED_HEADERS
    }


def _responses(
    name: str,
    api: aws.apigateway.RestApi,
    resource: aws.apigateway.Resource,
    method: aws.apigateway.Method,
    integration: aws.apigateway.Integration,
    parent: pulumi.Resource,
) -> tuple[aws.apigateway.IntegrationResponse, ...]:
    """A method response and an integration response per status SageMaker answers."""
    responses = []
    for status, pattern in RESPONSES.items():
        method_response = aws.apigateway.MethodResponse(
            f"{name}-response-{status}",
            rest_api=api.id,
            resource_id=resource.id,
            http_method=method.http_method,
            status_code=status,
            response_parameters={f"method.response.header.{h}": False for h in RETURNED_HEADERS},
            opts=pulumi.ResourceOptions(parent=parent),
        )
        responses.append(
            aws.apigateway.IntegrationResponse(
                f"{name}-integration-{status}",
                rest_api=api.id,
                resource_id=resource.id,
                http_method=method.http_method,
                status_code=method_response.status_code,
                selection_pattern=pattern,
                response_parameters=returned_headers(),
                opts=pulumi.ResourceOptions(parent=parent, depends_on=[integration]),
            )
        )
    return tuple(responses)


def route_deployment(
    name: str,
    ctx: AwsContext,
    api: aws.apigateway.RestApi,
    route: Route,
    resource_policy: pulumi.Input[str],
    asynchronous: bool,
    parent: pulumi.Resource,
) -> aws.apigateway.Deployment:
    """The deployment a stage serves, redeployed whenever what it captured changes."""
    shape = {
        "auth": method_auth(ctx.spec),
        "headers": FORWARDED_HEADERS,
        "returned": RETURNED_HEADERS,
        "binary": BINARY_MEDIA_TYPES,
        "async": asynchronous,
        "responses": RESPONSES,
    }
    # A REST API serves what its last deployment captured: a changed resource policy
    # (allowed CIDRs), integration target or role, or authorizer takes effect only
    # after a redeployment, so all of them are part of the trigger.
    redeployment = pulumi.Output.all(
        resource_policy,
        route.uri,
        route.credentials.role.arn if route.credentials else "",
        route.authorizer.id if route.authorizer else "",
        *route.connection,
    ).apply(
        lambda live: hashlib.sha256(
            json.dumps({**shape, "live": live}, sort_keys=True).encode()
        ).hexdigest()
    )
    return aws.apigateway.Deployment(
        f"{name}-deployment",
        rest_api=api.id,
        triggers={"redeployment": redeployment},
        opts=pulumi.ResourceOptions(
            parent=parent, depends_on=[route.method, route.integration, *route.responses]
        ),
    )
