"""API Gateway (REST): APIs, routes, stages, keys and usage plans in moto."""

from __future__ import annotations

from inferstack.components.testing.aws.fallback import auto_name
from inferstack.components.testing.aws.shapes import Args, Mirror, Moto, Result, boto, params


def _rest_api(m: Moto, a: Args) -> Result:
    i = a.inputs
    types = (i.get("endpointConfiguration") or {}).get("types", "REGIONAL")
    api = m.client("apigateway").create_rest_api(
        **params(
            name=i.get("name") or auto_name(a),
            description=i.get("description"),
            apiKeySource=i.get("apiKeySource"),
            policy=i.get("policy"),
            tags=i.get("tags"),
            endpointConfiguration={"types": [types] if isinstance(types, str) else types},
        )
    )
    root = next(
        r["id"]
        for r in m.client("apigateway").get_resources(restApiId=api["id"])["items"]
        if r["path"] == "/"
    )
    return api["id"], {
        "rootResourceId": root,
        "executionArn": f"arn:aws:execute-api:{m.region}:{m.account_id}:{api['id']}",
        "arn": f"arn:aws:apigateway:{m.region}::/restapis/{api['id']}",
    }


def _api_resource(m: Moto, a: Args) -> Result:
    i = a.inputs
    resource = m.client("apigateway").create_resource(
        restApiId=i["restApi"], parentId=i["parentId"], pathPart=i["pathPart"]
    )
    return resource["id"], {"path": resource["path"]}


def _authorizer(m: Moto, a: Args) -> Result:
    i = a.inputs
    authorizer = m.client("apigateway").create_authorizer(
        **params(
            restApiId=i["restApi"],
            name=i.get("name") or auto_name(a),
            type=i["type"],
            providerARNs=i.get("providerArns"),
            identitySource=i.get("identitySource"),
        )
    )
    return authorizer["id"], {}


def _method(m: Moto, a: Args) -> Result:
    i = a.inputs
    m.client("apigateway").put_method(
        **params(
            restApiId=i["restApi"],
            resourceId=i["resourceId"],
            httpMethod=i["httpMethod"],
            authorizationType=i["authorization"],
            apiKeyRequired=i.get("apiKeyRequired"),
            authorizerId=i.get("authorizerId"),
            requestParameters=i.get("requestParameters"),
        )
    )
    return f"agm-{i['restApi']}-{i['resourceId']}-{i['httpMethod']}", {}


def _integration(m: Moto, a: Args) -> Result:
    i = a.inputs
    m.client("apigateway").put_integration(
        **params(
            restApiId=i["restApi"],
            resourceId=i["resourceId"],
            httpMethod=i["httpMethod"],
            type=i["type"],
            integrationHttpMethod=i.get("integrationHttpMethod"),
            uri=i.get("uri"),
            credentials=i.get("credentials"),
            passthroughBehavior=i.get("passthroughBehavior"),
            timeoutInMillis=boto(i.get("timeoutMilliseconds")),
            requestParameters=i.get("requestParameters"),
            connectionType=i.get("connectionType"),
            connectionId=i.get("connectionId"),
            integrationTarget=i.get("integrationTarget"),
        )
    )
    return f"agi-{i['restApi']}-{i['resourceId']}-{i['httpMethod']}", {}


def _method_response(m: Moto, a: Args) -> Result:
    i = a.inputs
    m.client("apigateway").put_method_response(
        restApiId=i["restApi"],
        resourceId=i["resourceId"],
        httpMethod=i["httpMethod"],
        statusCode=i["statusCode"],
    )
    return f"agmr-{i['restApi']}-{i['resourceId']}-{i['httpMethod']}-{i['statusCode']}", {}


def _integration_response(m: Moto, a: Args) -> Result:
    i = a.inputs
    m.client("apigateway").put_integration_response(
        **params(
            restApiId=i["restApi"],
            resourceId=i["resourceId"],
            httpMethod=i["httpMethod"],
            statusCode=i["statusCode"],
            selectionPattern=i.get("selectionPattern"),
        )
    )
    return f"agir-{i['restApi']}-{i['resourceId']}-{i['httpMethod']}-{i['statusCode']}", {}


def _deployment(m: Moto, a: Args) -> Result:
    i = a.inputs
    deployment = m.client("apigateway").create_deployment(
        **params(restApiId=i["restApi"], description=i.get("description"))
    )
    return deployment["id"], {}


def _stage(m: Moto, a: Args) -> Result:
    i = a.inputs
    api, stage = i["restApi"], i["stageName"]
    client = m.client("apigateway")
    client.create_stage(
        **params(
            restApiId=api,
            stageName=stage,
            deploymentId=i["deployment"],
            tags=i.get("tags"),
            tracingEnabled=i.get("xrayTracingEnabled"),
        )
    )
    logs = i.get("accessLogSettings")
    if logs:
        client.update_stage(
            restApiId=api,
            stageName=stage,
            patchOperations=[
                {
                    "op": "replace",
                    "path": "/accessLogSettings/destinationArn",
                    "value": logs["destinationArn"],
                },
                {"op": "replace", "path": "/accessLogSettings/format", "value": logs["format"]},
            ],
        )
    return f"ags-{api}-{stage}", {
        "invokeUrl": f"https://{api}.execute-api.{m.region}.amazonaws.com/{stage}",
        "executionArn": f"arn:aws:execute-api:{m.region}:{m.account_id}:{api}/{stage}",
        "arn": f"arn:aws:apigateway:{m.region}::/restapis/{api}/stages/{stage}",
    }


_METHOD_SETTING_PATHS = {
    "throttlingRateLimit": "throttling/rateLimit",
    "throttlingBurstLimit": "throttling/burstLimit",
    "metricsEnabled": "metrics/enabled",
    "loggingLevel": "logging/loglevel",
    "dataTraceEnabled": "logging/dataTrace",
}


def _method_settings(m: Moto, a: Args) -> Result:
    i = a.inputs
    operations = [
        {
            "op": "replace",
            "path": f"/{i['methodPath']}/{path}",
            "value": str(boto(i["settings"][key])).lower()
            if isinstance(i["settings"][key], bool)
            else str(boto(i["settings"][key])),
        }
        for key, path in _METHOD_SETTING_PATHS.items()
        if i["settings"].get(key) is not None
    ]
    m.client("apigateway").update_stage(
        restApiId=i["restApi"], stageName=i["stageName"], patchOperations=operations
    )
    return f"{i['restApi']}-{i['stageName']}-{i['methodPath']}", {}


def _api_key(m: Moto, a: Args) -> Result:
    i = a.inputs
    key = m.client("apigateway").create_api_key(
        **params(
            name=i.get("name") or auto_name(a),
            value=i.get("value"),
            enabled=i.get("enabled", True),
            tags=i.get("tags"),
        )
    )
    return key["id"], {
        "value": key["value"],
        "arn": f"arn:aws:apigateway:{m.region}::/apikeys/{key['id']}",
    }


def _usage_plan(m: Moto, a: Args) -> Result:
    i = a.inputs
    plan = m.client("apigateway").create_usage_plan(
        **params(
            name=i.get("name") or auto_name(a),
            apiStages=[{"apiId": s["apiId"], "stage": s["stage"]} for s in i.get("apiStages", [])],
            throttle=params(
                rateLimit=i["throttleSettings"].get("rateLimit"),
                burstLimit=boto(i["throttleSettings"].get("burstLimit")),
            )
            if i.get("throttleSettings")
            else None,
            quota=params(
                limit=boto(i["quotaSettings"]["limit"]), period=i["quotaSettings"]["period"]
            )
            if i.get("quotaSettings")
            else None,
            tags=i.get("tags"),
        )
    )
    return plan["id"], {"arn": f"arn:aws:apigateway:{m.region}::/usageplans/{plan['id']}"}


def _usage_plan_key(m: Moto, a: Args) -> Result:
    i = a.inputs
    key = m.client("apigateway").create_usage_plan_key(
        usagePlanId=i["usagePlanId"], keyId=i["keyId"], keyType=i["keyType"]
    )
    return key["id"], {"name": key.get("name", ""), "value": key.get("value", "")}


def _account(m: Moto, a: Args) -> Result:
    m.client("apigateway").update_account(
        patchOperations=[
            {"op": "replace", "path": "/cloudwatchRoleArn", "value": a.inputs["cloudwatchRoleArn"]}
        ]
    )
    return "api-gateway-account", {}


MIRRORS: dict[str, Mirror] = {
    "aws:apigateway/restApi:RestApi": _rest_api,
    "aws:apigateway/resource:Resource": _api_resource,
    "aws:apigateway/authorizer:Authorizer": _authorizer,
    "aws:apigateway/method:Method": _method,
    "aws:apigateway/integration:Integration": _integration,
    "aws:apigateway/methodResponse:MethodResponse": _method_response,
    "aws:apigateway/integrationResponse:IntegrationResponse": _integration_response,
    "aws:apigateway/deployment:Deployment": _deployment,
    "aws:apigateway/stage:Stage": _stage,
    "aws:apigateway/methodSettings:MethodSettings": _method_settings,
    "aws:apigateway/apiKey:ApiKey": _api_key,
    "aws:apigateway/usagePlan:UsagePlan": _usage_plan,
    "aws:apigateway/usagePlanKey:UsagePlanKey": _usage_plan_key,
    "aws:apigateway/account:Account": _account,
}
