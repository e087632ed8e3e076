"""What the API's POST /invocations reaches: the seam between the gateway and its two
kinds of backend.

`SageMakerBackend`: an AWS-service integration with InvokeEndpoint (gateway_route.py).
`LoadBalancerBackend`: a private HTTP proxy integration through a VPC link (V2) to the
instance group's internal load balancer (this module). Auth, throttling, the usage
plan, the WAF and the access logs are the stage's and the method's, the same for both.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.gateway_route import Route, jwt_authorizer, method_auth
from inferstack.runtime.contract import Routes


@dataclass(frozen=True)
class SageMakerBackend:
    """A SageMaker endpoint, invoked with the integration's own role."""

    endpoint_name: pulumi.Input[str]
    """The endpoint POST /invocations calls."""
    endpoint_arn: pulumi.Input[str]
    """Its ARN, the only resource the invoke role may invoke."""


@dataclass(frozen=True)
class LoadBalancerBackend:
    """The instance group's internal Application Load Balancer, through a VPC link V2."""

    vpc_link_id: pulumi.Input[str]
    """The VPC link (V2) whose ENIs reach the load balancer's listener."""
    load_balancer_arn: pulumi.Input[str]
    """The load balancer (the integration target)."""
    dns_name: pulumi.Input[str]
    """Its internal DNS name: the integration URI's host (the Host header)."""


GatewayBackend = SageMakerBackend | LoadBalancerBackend
"""Either kind of backend."""


def private_uri(dns_name: str) -> str:
    """The integration URI: the runtime's /invocations on the load balancer's listener."""
    return f"http://{dns_name}{Routes.INVOCATIONS}"


def load_balancer_route(
    name: str,
    ctx: AwsContext,
    api: aws.apigateway.RestApi,
    backend: LoadBalancerBackend,
    parent: pulumi.Resource,
) -> Route:
    """POST /invocations on `api` as an HTTP proxy through the VPC link: the runtime's
    answer (status, headers, body) goes back to the caller as it is."""
    child = pulumi.ResourceOptions(parent=parent)
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
        opts=child,
        **method_auth(ctx.spec),
    )
    uri = pulumi.Output.from_input(backend.dns_name).apply(private_uri)
    integration = aws.apigateway.Integration(
        f"{name}-load-balancer",
        rest_api=api.id,
        resource_id=resource.id,
        http_method=method.http_method,
        type="HTTP_PROXY",
        integration_http_method="POST",
        connection_type="VPC_LINK",
        connection_id=backend.vpc_link_id,
        integration_target=backend.load_balancer_arn,
        uri=uri,
        passthrough_behavior="WHEN_NO_MATCH",
        timeout_milliseconds=29000,
        opts=child,
    )
    connection = (backend.vpc_link_id, backend.load_balancer_arn)
    return Route(method, integration, (), uri, None, authorizer, connection)
