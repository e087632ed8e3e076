"""Plausible computed outputs of AWS resources for the offline plan (`PlanMocks`).

Real values come from the provider; these only need the right shape so that
ARNs, URLs and names built from them read like the real thing.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi

from inferstack.components.plan.mocks import (
    FAKE_ACCOUNT,
    FAKE_REGION,
    CallFake,
    ResourceFake,
)

Args = pulumi.runtime.MockResourceArgs


def _suffix(args: Args, n: int = 7) -> str:
    return _hex(args.typ, args.name, n)


def _hex(typ: str, logical: str, n: int) -> str:
    return hashlib.sha256(f"{typ}/{logical}".encode()).hexdigest()[:n]


def pulumi_auto_name(typ: str, logical: str, *, lower: bool = False) -> str:
    """What Pulumi's auto-naming makes of `logical`: `<logical>-<7 random hex>` (here a
    stable stand-in for the random part), lower-cased where the provider lower-cases
    (S3 buckets)."""
    name = f"{logical}-{_hex(typ, logical, 7)}"
    return name.lower() if lower else name


def auto_name(args: Args, *, lower: bool = False) -> str:
    """The physical name: the given one, else Pulumi's auto-name (`<name>-<7 hex>`)."""
    given = args.inputs.get("name")
    if given:
        return given.lower() if lower else given
    return pulumi_auto_name(args.typ, args.name, lower=lower)


def _arn(service: str, resource: str, region: str = FAKE_REGION) -> str:
    return f"arn:aws:{service}:{region}:{FAKE_ACCOUNT}:{resource}"


def _bucket(args: Args) -> dict[str, Any]:
    bucket = args.inputs.get("bucket") or auto_name(args, lower=True)
    return {
        "id": bucket,
        "bucket": bucket,
        "arn": f"arn:aws:s3:::{bucket}",
        "bucketRegionalDomainName": f"{bucket}.s3.{FAKE_REGION}.amazonaws.com",
    }


def _kms_key(args: Args) -> dict[str, Any]:
    key_id = f"{_suffix(args, 8)}-0000-4000-8000-{_suffix(args, 12)}"
    return {"id": key_id, "keyId": key_id, "arn": _arn("kms", f"key/{key_id}")}


def _role(args: Args) -> dict[str, Any]:
    name = auto_name(args)
    return {
        "id": name,
        "name": name,
        "arn": f"arn:aws:iam::{FAKE_ACCOUNT}:role/{name}",
        "uniqueId": f"AROA{_suffix(args, 16).upper()}",
    }


def _repository(args: Args) -> dict[str, Any]:
    name = auto_name(args, lower=True)
    return {
        "id": name,
        "name": name,
        "arn": _arn("ecr", f"repository/{name}"),
        "repositoryUrl": f"{FAKE_ACCOUNT}.dkr.ecr.{FAKE_REGION}.amazonaws.com/{name}",
        "registryId": FAKE_ACCOUNT,
    }


def _sagemaker(kind: str):  # type: ignore[no-untyped-def]
    def fake(args: Args) -> dict[str, Any]:
        name = auto_name(args)
        return {"id": name, "name": name, "arn": _arn("sagemaker", f"{kind}/{name.lower()}")}

    return fake


def _log_group(args: Args) -> dict[str, Any]:
    name = auto_name(args)
    return {"id": name, "name": name, "arn": _arn("logs", f"log-group:{name}")}


def _topic(args: Args) -> dict[str, Any]:
    name = auto_name(args)
    arn = _arn("sns", name)
    return {"id": arn, "name": name, "arn": arn}


def _alarm(args: Args) -> dict[str, Any]:
    name = auto_name(args)
    return {"id": name, "name": name, "arn": _arn("cloudwatch", f"alarm:{name}")}


def _dashboard(args: Args) -> dict[str, Any]:
    name = args.inputs.get("dashboardName", args.name)
    return {"id": name, "dashboardArn": f"arn:aws:cloudwatch::{FAKE_ACCOUNT}:dashboard/{name}"}


def _rest_api(args: Args) -> dict[str, Any]:
    api_id = _suffix(args, 10)
    return {
        "id": api_id,
        "rootResourceId": _suffix(args, 6),
        "executionArn": _arn("execute-api", api_id),
        "arn": f"arn:aws:apigateway:{FAKE_REGION}::/restapis/{api_id}",
    }


def _stage(args: Args) -> dict[str, Any]:
    api, stage = args.inputs.get("restApi", "api"), args.inputs.get("stageName", "stage")
    return {
        "id": f"ags-{api}-{stage}",
        "invokeUrl": f"https://{api}.execute-api.{FAKE_REGION}.amazonaws.com/{stage}",
        "executionArn": _arn("execute-api", f"{api}/{stage}"),
        "arn": f"arn:aws:apigateway:{FAKE_REGION}::/restapis/{api}/stages/{stage}",
    }


def _short_id(args: Args) -> dict[str, Any]:
    return {"id": _suffix(args, 10)}


def _scaling_target(args: Args) -> dict[str, Any]:
    rid = args.inputs.get("resourceId", args.name)
    return {"id": rid, "arn": _arn("application-autoscaling", f"scalable-target/{_suffix(args)}")}


def _web_acl(args: Args) -> dict[str, Any]:
    name = auto_name(args)
    acl_id = _suffix(args, 12)
    return {"id": acl_id, "name": name, "arn": _arn("wafv2", f"regional/webacl/{name}/{acl_id}")}


def _sagemaker_endpoint(args: Args) -> dict[str, Any]:
    name = args.inputs["name"]
    return {"id": name, "arn": _arn("sagemaker", f"endpoint/{name.lower()}")}


def _prefixed(prefix: str, n: int = 17):  # type: ignore[no-untyped-def]
    """An EC2-style id (`vpc-0a1b...`)."""

    def fake(args: Args) -> dict[str, Any]:
        return {"id": f"{prefix}-{_suffix(args, n)}"}

    return fake


def _load_balancer(args: Args) -> dict[str, Any]:
    name = auto_name(args)
    lb_id = _suffix(args, 16)
    suffix = f"app/{name}/{lb_id}"
    arn = _arn("elasticloadbalancing", f"loadbalancer/{suffix}")
    internal = "internal-" if args.inputs.get("internal") else ""
    return {
        "id": arn,
        "arn": arn,
        "arnSuffix": suffix,
        "name": name,
        "dnsName": f"{internal}{name}-{_suffix(args, 10)}.{FAKE_REGION}.elb.amazonaws.com",
    }


def _target_group(args: Args) -> dict[str, Any]:
    name = auto_name(args)
    suffix = f"targetgroup/{name}/{_suffix(args, 16)}"
    arn = _arn("elasticloadbalancing", suffix)
    return {"id": arn, "arn": arn, "arnSuffix": suffix, "name": name}


def _launch_template(args: Args) -> dict[str, Any]:
    return {"id": f"lt-{_suffix(args, 17)}", "name": auto_name(args), "latestVersion": 1}


def _instance_profile(args: Args) -> dict[str, Any]:
    name = auto_name(args)
    return {"id": name, "name": name, "arn": f"arn:aws:iam::{FAKE_ACCOUNT}:instance-profile/{name}"}


def _autoscaling_group(args: Args) -> dict[str, Any]:
    name = auto_name(args)
    uid = f"{_suffix(args, 8)}-0000-4000-8000-{_suffix(args, 12)}"
    arn = _arn("autoscaling", f"autoScalingGroup:{uid}:autoScalingGroupName/{name}")
    return {"id": name, "name": name, "arn": arn}


# Python dynamic resources share one type token; their `kind` input says which they are.
_DYNAMIC = {"sagemaker-endpoint": _sagemaker_endpoint}


def _dynamic(args: Args) -> dict[str, Any]:
    fake = _DYNAMIC.get(args.inputs.get("kind", ""))
    return fake(args) if fake else _generic(args)


def _generic(args: Args) -> dict[str, Any]:
    return {"id": f"{args.name}-{_suffix(args)}"}


FAKES = {
    "aws:": _generic,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:kms/key:Key": _kms_key,
    "aws:iam/role:Role": _role,
    "aws:ecr/repository:Repository": _repository,
    "aws:sagemaker/model:Model": _sagemaker("model"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _sagemaker("endpoint-config"),
    "aws:sagemaker/endpoint:Endpoint": _sagemaker("endpoint"),
    "pulumi-python:dynamic:Resource": _dynamic,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/dashboard:Dashboard": _dashboard,
    "aws:sns/topic:Topic": _topic,
    "aws:apigateway/restApi:RestApi": _rest_api,
    "aws:apigateway/stage:Stage": _stage,
    "aws:apigateway/apiKey:ApiKey": _short_id,
    "aws:apigateway/usagePlan:UsagePlan": _short_id,
    "aws:apigateway/resource:Resource": _short_id,
    "aws:apigateway/deployment:Deployment": _short_id,
    "aws:apigateway/authorizer:Authorizer": _short_id,
    "aws:appautoscaling/target:Target": _scaling_target,
    "aws:wafv2/webAcl:WebAcl": _web_acl,
    # The instance group (mode instance_group).
    "aws:ec2/vpc:Vpc": _prefixed("vpc"),
    "aws:ec2/subnet:Subnet": _prefixed("subnet"),
    "aws:ec2/routeTable:RouteTable": _prefixed("rtb"),
    "aws:ec2/securityGroup:SecurityGroup": _prefixed("sg"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _prefixed("vpce"),
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:iam/instanceProfile:InstanceProfile": _instance_profile,
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:autoscaling/group:Group": _autoscaling_group,
    "aws:apigatewayv2/vpcLink:VpcLink": _short_id,
}


def _caller_identity(_: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    return {
        "accountId": FAKE_ACCOUNT,
        "arn": f"arn:aws:iam::{FAKE_ACCOUNT}:user/plan",
        "userId": "AIDAPLAN",
        "id": FAKE_ACCOUNT,
    }


def _ecr_token(_: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    return {
        "userName": "AWS",
        "password": "offline-plan-token",
        "authorizationToken": "QVdTOm9mZmxpbmUtcGxhbi10b2tlbg==",
        "proxyEndpoint": f"https://{FAKE_ACCOUNT}.dkr.ecr.{FAKE_REGION}.amazonaws.com",
        "registryId": FAKE_ACCOUNT,
        "expiresAt": "2099-01-01T00:00:00Z",
        "id": FAKE_REGION,
    }


def _ssm_parameter(args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    # The public AMI parameters answer an AMI id (the DLAMI's, aws/group_options.py).
    name = args.args.get("name", "")
    value = f"ami-{hashlib.sha256(name.encode()).hexdigest()[:17]}"
    return {
        "id": name,
        "name": name,
        "arn": f"arn:aws:ssm:{FAKE_REGION}::parameter{name}",
        "type": "String",
        "value": value,
        "insecureValue": value,
        "version": 1,
    }


PLAN_ZONE_LETTERS = "abcdef"
"""The zones the offline plan's region has; every type is offered in each."""


def _availability_zones(args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    region = args.args.get("region") or FAKE_REGION
    names = [f"{region}{letter}" for letter in PLAN_ZONE_LETTERS]
    return {
        "id": region,
        "names": names,
        "zoneIds": [f"use1-az{i + 1}" for i in range(len(names))],
        "groupNames": [region] * len(names),
    }


def _instance_type_offerings(args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    region = args.args.get("region") or FAKE_REGION
    types: list[str] = next(
        (f["values"] for f in args.args.get("filters", []) if f["name"] == "instance-type"), []
    )
    rows = [(f"{region}{letter}", t) for letter in PLAN_ZONE_LETTERS for t in types]
    return {
        "id": region,
        "locations": [z for z, _ in rows],
        "instanceTypes": [t for _, t in rows],
        "locationTypes": ["availability-zone"] * len(rows),
    }


PLAN_ROOT_SNAPSHOT_GB = 75
"""The root snapshot of the offline plan's AMIs (the Base OSS DLAMI's is of that order)."""


def _ami(args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
    ids = [v for f in args.args.get("filters", []) if f["name"] == "image-id" for v in f["values"]]
    image = ids[0] if ids else "ami-0000000000000000"
    return {
        "id": image,
        "imageId": image,
        "rootDeviceName": "/dev/sda1",
        "rootDeviceType": "ebs",
        "blockDeviceMappings": [
            {
                "deviceName": "/dev/sda1",
                "ebs": {"volume_size": str(PLAN_ROOT_SNAPSHOT_GB), "volume_type": "gp3"},
                "noDevice": "",
                "virtualName": "",
            }
        ],
    }


RESOURCE_FAKES: dict[str, ResourceFake] = FAKES
CALL_FAKES: dict[str, CallFake] = {
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": _ecr_token,
    "aws:ssm/getParameter:getParameter": _ssm_parameter,
    "aws:ec2/getAmi:getAmi": _ami,
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": _instance_type_offerings,
}
