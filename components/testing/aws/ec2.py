"""EC2 networking and launch templates in moto (the instance group), and the instance
profile its hosts use.

pulumi-aws takes a launch template's booleans as strings ("true"); EC2 takes booleans,
so the mirror converts them, and botocore checks the rest against EC2's API model.
"""

from __future__ import annotations

import hashlib
from typing import Any

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


def _tags(kind: str, tags: dict[str, str] | None) -> list[dict[str, Any]]:
    return [{"ResourceType": kind, "Tags": tag_list(tags)}] if tags else []


def _flag(value: Any) -> bool | None:
    """A provider boolean ("true", "false", True, or unset) as EC2's."""
    if value is None or value == "":
        return None
    return value is True or str(value).lower() == "true"


def _vpc(m: Moto, a: Args) -> Result:
    i = a.inputs
    client = m.client("ec2")
    vpc = client.create_vpc(
        CidrBlock=i["cidrBlock"], TagSpecifications=_tags("vpc", i.get("tags"))
    )["Vpc"]
    for attribute in ("enableDnsSupport", "enableDnsHostnames"):
        if i.get(attribute) is not None:
            client.modify_vpc_attribute(
                VpcId=vpc["VpcId"],
                **{attribute[:1].upper() + attribute[1:]: {"Value": i[attribute]}},
            )
    arn = f"arn:aws:ec2:{m.region}:{m.account_id}:vpc/{vpc['VpcId']}"
    return vpc["VpcId"], {"arn": arn, "defaultSecurityGroupId": ""}


def _subnet(m: Moto, a: Args) -> Result:
    i = a.inputs
    client = m.client("ec2")
    subnet = client.create_subnet(
        **params(
            VpcId=i["vpcId"],
            CidrBlock=i["cidrBlock"],
            AvailabilityZone=i.get("availabilityZone"),
            TagSpecifications=_tags("subnet", i.get("tags")),
        )
    )["Subnet"]
    client.modify_subnet_attribute(
        SubnetId=subnet["SubnetId"],
        MapPublicIpOnLaunch={"Value": bool(_flag(i.get("mapPublicIpOnLaunch")))},
    )
    return subnet["SubnetId"], {"arn": subnet.get("SubnetArn", "")}


def _route_table(m: Moto, a: Args) -> Result:
    i = a.inputs
    table = m.client("ec2").create_route_table(
        VpcId=i["vpcId"], TagSpecifications=_tags("route-table", i.get("tags"))
    )["RouteTable"]
    return table["RouteTableId"], {}


def _route_table_association(m: Moto, a: Args) -> Result:
    i = a.inputs
    answer = m.client("ec2").associate_route_table(
        RouteTableId=i["routeTableId"], SubnetId=i["subnetId"]
    )
    return answer["AssociationId"], {}


def _security_group(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = i.get("name") or auto_name(a)
    client = m.client("ec2")
    group_id = client.create_security_group(
        **params(
            GroupName=name,
            Description=i.get("description") or "Managed by Pulumi",
            VpcId=i.get("vpcId"),
            TagSpecifications=_tags("security-group", i.get("tags")),
        )
    )["GroupId"]
    # EC2 gives a new VPC security group an allow-all egress rule, and the provider
    # (terraform-provider-aws aws_security_group) revokes it on create: only the
    # rules the stack declares remain.
    group = client.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]
    if group.get("IpPermissionsEgress"):
        client.revoke_security_group_egress(
            GroupId=group_id, IpPermissions=group["IpPermissionsEgress"]
        )
    arn = f"arn:aws:ec2:{m.region}:{m.account_id}:security-group/{group_id}"
    return group_id, {"name": name, "arn": arn, "ownerId": m.account_id}


def _permission(i: dict[str, Any]) -> dict[str, Any]:
    permission: dict[str, Any] = params(
        IpProtocol=i["ipProtocol"], FromPort=boto(i.get("fromPort")), ToPort=boto(i.get("toPort"))
    )
    if i.get("referencedSecurityGroupId"):
        permission["UserIdGroupPairs"] = [
            params(GroupId=i["referencedSecurityGroupId"], Description=i.get("description"))
        ]
    if i.get("cidrIpv4"):
        permission["IpRanges"] = [params(CidrIp=i["cidrIpv4"], Description=i.get("description"))]
    return permission


def _rule(direction: str) -> Mirror:
    def mirror(m: Moto, a: Args) -> Result:
        i = a.inputs
        client = m.client("ec2")
        authorize = getattr(client, f"authorize_security_group_{direction}")
        answer = authorize(GroupId=i["securityGroupId"], IpPermissions=[_permission(i)])
        rules = answer.get("SecurityGroupRules") or [{}]
        digest = hashlib.sha256(f"{a.typ}/{a.name}".encode()).hexdigest()[:17]
        rule_id = rules[0].get("SecurityGroupRuleId") or f"sgr-{digest}"
        return rule_id, {"securityGroupRuleId": rule_id}

    return mirror


def _vpc_endpoint(m: Moto, a: Args) -> Result:
    i = a.inputs
    endpoint = m.client("ec2").create_vpc_endpoint(
        **params(
            VpcId=i["vpcId"],
            ServiceName=i["serviceName"],
            VpcEndpointType=i.get("vpcEndpointType"),
            RouteTableIds=i.get("routeTableIds"),
            SubnetIds=i.get("subnetIds"),
            SecurityGroupIds=i.get("securityGroupIds"),
            PrivateDnsEnabled=i.get("privateDnsEnabled"),
            TagSpecifications=_tags("vpc-endpoint", i.get("tags")),
        )
    )["VpcEndpoint"]
    return endpoint["VpcEndpointId"], {}


def launch_template_data(i: dict[str, Any]) -> dict[str, Any]:
    """The provider's launch template inputs as EC2's LaunchTemplateData."""
    metadata = i.get("metadataOptions") or {}
    return params(
        ImageId=i.get("imageId"),
        InstanceType=i.get("instanceType"),
        UserData=i.get("userData"),
        IamInstanceProfile=params(**boto(i.get("iamInstanceProfile") or {})) or None,
        MetadataOptions=params(
            HttpEndpoint=metadata.get("httpEndpoint"),
            HttpTokens=metadata.get("httpTokens"),
            HttpPutResponseHopLimit=boto(metadata.get("httpPutResponseHopLimit")),
            InstanceMetadataTags=metadata.get("instanceMetadataTags"),
        )
        or None,
        BlockDeviceMappings=[
            params(
                DeviceName=b.get("deviceName"),
                Ebs=params(
                    VolumeSize=boto((b.get("ebs") or {}).get("volumeSize")),
                    VolumeType=(b.get("ebs") or {}).get("volumeType"),
                    Encrypted=_flag((b.get("ebs") or {}).get("encrypted")),
                    KmsKeyId=(b.get("ebs") or {}).get("kmsKeyId"),
                    DeleteOnTermination=_flag((b.get("ebs") or {}).get("deleteOnTermination")),
                ),
            )
            for b in i.get("blockDeviceMappings") or []
        ]
        or None,
        NetworkInterfaces=[
            params(
                DeviceIndex=boto(n.get("deviceIndex")),
                AssociatePublicIpAddress=_flag(n.get("associatePublicIpAddress")),
                Groups=n.get("securityGroups"),
                DeleteOnTermination=_flag(n.get("deleteOnTermination")),
            )
            for n in i.get("networkInterfaces") or []
        ]
        or None,
        TagSpecifications=[
            {"ResourceType": t["resourceType"], "Tags": tag_list(t.get("tags"))}
            for t in i.get("tagSpecifications") or []
        ]
        or None,
    )


def _launch_template(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = i.get("name") or auto_name(a)
    template = m.client("ec2").create_launch_template(
        **params(
            LaunchTemplateName=name,
            VersionDescription=i.get("description"),
            LaunchTemplateData=launch_template_data(i),
            TagSpecifications=_tags("launch-template", i.get("tags")),
        )
    )["LaunchTemplate"]
    template_id = template["LaunchTemplateId"]
    return template_id, {
        "name": name,
        "arn": f"arn:aws:ec2:{m.region}:{m.account_id}:launch-template/{template_id}",
        "latestVersion": template["LatestVersionNumber"],
        "defaultVersion": template["DefaultVersionNumber"],
    }


def _instance_profile(m: Moto, a: Args) -> Result:
    i = a.inputs
    name = i.get("name") or auto_name(a)
    client = m.client("iam")
    profile = client.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    if i.get("role"):
        client.add_role_to_instance_profile(InstanceProfileName=name, RoleName=i["role"])
    return name, {"name": name, "arn": profile["Arn"], "uniqueId": profile["InstanceProfileId"]}


MIRRORS: dict[str, Mirror] = {
    "aws:ec2/vpc:Vpc": _vpc,
    "aws:ec2/subnet:Subnet": _subnet,
    "aws:ec2/routeTable:RouteTable": _route_table,
    "aws:ec2/routeTableAssociation:RouteTableAssociation": _route_table_association,
    "aws:ec2/securityGroup:SecurityGroup": _security_group,
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": _rule("ingress"),
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": _rule("egress"),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _vpc_endpoint,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:iam/instanceProfile:InstanceProfile": _instance_profile,
}
