"""EC2 Auto Scaling groups, lifecycle hooks and scaling policies in moto (the instance
group), the VPC link (V2) the gateway reaches its load balancer through, and the SSM
parameter lookup of the group's AMI.

Not in moto: a group's instance refresh preferences (the provider starts a refresh only
when a later update changes the launch template) and enabled metrics are recorded as
inputs only (`NOT_IN_MOTO`); the Deep Learning AMI's public parameter is not in moto's
SSM, so the lookup answers an AMI that moto's EC2 holds.
"""

from __future__ import annotations

from typing import Any

import pulumi

from inferstack.components.testing.aws.fallback import auto_name
from inferstack.components.testing.aws.shapes import (
    Args,
    CallMirror,
    CallResult,
    Mirror,
    Moto,
    Result,
    boto,
    params,
)


def _mixed_policy(policy: dict[str, Any]) -> dict[str, Any]:
    template = policy.get("launchTemplate") or {}
    spec = template.get("launchTemplateSpecification") or {}
    return params(
        LaunchTemplate=params(
            LaunchTemplateSpecification=params(
                LaunchTemplateId=spec.get("launchTemplateId"),
                LaunchTemplateName=spec.get("launchTemplateName"),
                Version=None if spec.get("version") is None else str(spec["version"]),
            ),
            Overrides=[
                params(InstanceType=o.get("instanceType")) for o in template.get("overrides") or []
            ],
        ),
        InstancesDistribution=boto(policy.get("instancesDistribution")),
    )


def _group(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = i.get("name") or auto_name(a)
    client = m.client("autoscaling")
    client.create_auto_scaling_group(
        **params(
            AutoScalingGroupName=name,
            MinSize=boto(i["minSize"]),
            MaxSize=boto(i["maxSize"]),
            DesiredCapacity=boto(i.get("desiredCapacity")),
            VPCZoneIdentifier=",".join(i.get("vpcZoneIdentifiers") or []) or None,
            TargetGroupARNs=i.get("targetGroupArns"),
            HealthCheckType=i.get("healthCheckType"),
            HealthCheckGracePeriod=boto(i.get("healthCheckGracePeriod")),
            DefaultInstanceWarmup=boto(i.get("defaultInstanceWarmup")),
            CapacityRebalance=i.get("capacityRebalance"),
            MixedInstancesPolicy=_mixed_policy(i["mixedInstancesPolicy"])
            if i.get("mixedInstancesPolicy")
            else None,
            Tags=[
                {
                    "Key": t["key"],
                    "Value": t["value"],
                    "PropagateAtLaunch": bool(t.get("propagateAtLaunch")),
                    "ResourceId": name,
                    "ResourceType": "auto-scaling-group",
                }
                for t in i.get("tags") or []
            ]
            or None,
        )
    )
    # The group's initial lifecycle hooks (CreateAutoScalingGroup's
    # LifecycleHookSpecificationList), as the hooks they become.
    for hook in i.get("initialLifecycleHooks") or []:
        client.put_lifecycle_hook(
            **params(
                LifecycleHookName=hook["name"],
                AutoScalingGroupName=name,
                LifecycleTransition=hook["lifecycleTransition"],
                DefaultResult=hook.get("defaultResult"),
                HeartbeatTimeout=boto(hook.get("heartbeatTimeout")),
            )
        )
    if i.get("enabledMetrics"):
        client.enable_metrics_collection(
            AutoScalingGroupName=name, Metrics=list(i["enabledMetrics"]), Granularity="1Minute"
        )
    group = client.describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    arn = group["AutoScalingGroups"][0]["AutoScalingGroupARN"]
    return name, {"name": name, "arn": arn}


def _lifecycle_hook(m: Moto, a: Args) -> Result:
    i = a.inputs
    m.client("autoscaling").put_lifecycle_hook(
        **params(
            LifecycleHookName=i["name"],
            AutoScalingGroupName=i["autoscalingGroupName"],
            LifecycleTransition=i["lifecycleTransition"],
            DefaultResult=i.get("defaultResult"),
            HeartbeatTimeout=boto(i.get("heartbeatTimeout")),
            NotificationTargetARN=i.get("notificationTargetArn"),
            RoleARN=i.get("roleArn"),
        )
    )
    return i["name"], {}


def _tracking(config: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = params(
        TargetValue=boto(config.get("targetValue")), DisableScaleIn=config.get("disableScaleIn")
    )
    predefined = config.get("predefinedMetricSpecification")
    if predefined:
        out["PredefinedMetricSpecification"] = params(
            PredefinedMetricType=predefined["predefinedMetricType"],
            ResourceLabel=predefined.get("resourceLabel"),
        )
    custom = config.get("customizedMetricSpecification")
    if custom:
        out["CustomizedMetricSpecification"] = params(
            MetricName=custom.get("metricName"),
            Namespace=custom.get("namespace"),
            Statistic=custom.get("statistic"),
            Unit=custom.get("unit"),
            Dimensions=[
                {"Name": d["name"], "Value": d["value"]}
                for d in custom.get("metricDimensions") or []
            ],
        )
    return out


def _policy(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = i.get("name") or auto_name(a)
    client = m.client("autoscaling")
    client.put_scaling_policy(
        **params(
            AutoScalingGroupName=i["autoscalingGroupName"],
            PolicyName=name,
            PolicyType=i.get("policyType"),
            EstimatedInstanceWarmup=boto(i.get("estimatedInstanceWarmup")),
            TargetTrackingConfiguration=_tracking(i["targetTrackingConfiguration"])
            if i.get("targetTrackingConfiguration")
            else None,
        )
    )
    # moto's PutScalingPolicy answer leaves out PolicyARN; DescribePolicies has it.
    (policy,) = client.describe_policies(
        AutoScalingGroupName=i["autoscalingGroupName"], PolicyNames=[name]
    )["ScalingPolicies"]
    return policy["PolicyARN"], {"name": name, "arn": policy["PolicyARN"]}


def _vpc_link(m: Moto, a: Args) -> Result:
    i = a.inputs
    link = m.client("apigatewayv2").create_vpc_link(
        **params(
            Name=i["name"],
            SubnetIds=i["subnetIds"],
            SecurityGroupIds=i.get("securityGroupIds"),
            Tags=i.get("tags"),
        )
    )
    link_id = link["VpcLinkId"]
    return link_id, {"arn": f"arn:aws:apigateway:{m.region}::/vpclinks/{link_id}"}


def _ssm_parameter(m: Moto, args: pulumi.runtime.MockCallArgs) -> CallResult:
    name = args.args["name"]
    ssm = m.client("ssm")
    try:
        value = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        # moto's SSM has no Deep Learning AMI parameters: answer an AMI moto's EC2 holds.
        images = m.client("ec2").describe_images(Owners=["amazon"])["Images"]
        value = sorted(image["ImageId"] for image in images)[0]
    return {"id": name, "name": name, "value": value, "insecureValue": value, "type": "String"}


def _availability_zones(m: Moto, args: pulumi.runtime.MockCallArgs) -> CallResult:
    filters = [
        {"Name": f["name"], "Values": list(f["values"])} for f in args.args.get("filters", [])
    ]
    state = args.args.get("state")
    if state:
        filters.append({"Name": "state", "Values": [state]})
    zones = m.client("ec2").describe_availability_zones(Filters=filters)["AvailabilityZones"]
    return {
        "id": m.region,
        "names": [z["ZoneName"] for z in zones],
        "zoneIds": [z["ZoneId"] for z in zones],
        "groupNames": [z.get("GroupName", m.region) for z in zones],
    }


def _instance_type_offerings(m: Moto, args: pulumi.runtime.MockCallArgs) -> CallResult:
    filters = [
        {"Name": f["name"], "Values": list(f["values"])} for f in args.args.get("filters", [])
    ]
    offerings = m.client("ec2").describe_instance_type_offerings(
        LocationType=args.args.get("locationType", "region"), Filters=filters
    )["InstanceTypeOfferings"]
    return {
        "id": m.region,
        "locations": [o["Location"] for o in offerings],
        "instanceTypes": [o["InstanceType"] for o in offerings],
        "locationTypes": [o["LocationType"] for o in offerings],
    }


def _ami(m: Moto, args: pulumi.runtime.MockCallArgs) -> CallResult:
    ids = [v for f in args.args.get("filters", []) if f["name"] == "image-id" for v in f["values"]]
    (image,) = m.client("ec2").describe_images(ImageIds=ids)["Images"]
    return {
        "id": image["ImageId"],
        "imageId": image["ImageId"],
        "rootDeviceName": image.get("RootDeviceName", ""),
        "rootDeviceType": image.get("RootDeviceType", ""),
        "blockDeviceMappings": [
            {
                "deviceName": b["DeviceName"],
                "ebs": {
                    "volume_size": str(b["Ebs"].get("VolumeSize", "")),
                    "snapshot_id": b["Ebs"].get("SnapshotId", ""),
                }
                if "Ebs" in b
                else {},
                "noDevice": "",
                "virtualName": b.get("VirtualName", ""),
            }
            for b in image.get("BlockDeviceMappings", [])
        ],
    }


MIRRORS: dict[str, Mirror] = {
    "aws:autoscaling/group:Group": _group,
    "aws:autoscaling/lifecycleHook:LifecycleHook": _lifecycle_hook,
    "aws:autoscaling/policy:Policy": _policy,
    "aws:apigatewayv2/vpcLink:VpcLink": _vpc_link,
}
CALLS: dict[str, CallMirror] = {
    "aws:ssm/getParameter:getParameter": _ssm_parameter,
    "aws:ec2/getAmi:getAmi": _ami,
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": _instance_type_offerings,
}
NOT_IN_MOTO: dict[str, str] = {
    "aws:autoscaling/group:Group#instanceRefresh": (
        "preferences of the refresh the provider starts when a later update changes the "
        "launch template; moto has no refresh to start on create"
    ),
    "aws:autoscaling/group:Group#waitForCapacityTimeout": "a provider-side wait, no API",
    "aws:apigateway/integration:Integration#connectionId": (
        "moto's PutIntegration keeps connectionType but not the VPC link's id"
    ),
    "aws:apigateway/integration:Integration#integrationTarget": (
        "moto's PutIntegration does not keep the load balancer of a VPC link V2"
    ),
}
