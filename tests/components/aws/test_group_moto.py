"""The instance group declared under `MotoMocks`: every resource created in moto through
boto3 (botocore checks each call), then moto's state asked what the issue wants true."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from inferstack.components.aws import AwsEndpoint
from inferstack.components.aws.group_options import GROUP_INSTANCE_TYPES
from inferstack.components.testing import MotoMocks, run_program
from inferstack.runtime.contract import PORT, Routes
from tests.components.aws.conftest import REGION, STACK
from tests.components.aws.group_specs import group_spec


@pytest.fixture(scope="module")
def deployed(moto_env: None, bundle: Path) -> tuple[dict[str, Any], MotoMocks]:
    spec = group_spec(bundle)
    mocks = MotoMocks(REGION)

    def program() -> dict[str, Any]:
        endpoint = AwsEndpoint("churn", spec)
        return {"url": endpoint.url, "group": endpoint.endpoint_name}

    return run_program(program, mocks, stack=STACK), mocks


def _group(mocks: MotoMocks, name: str) -> dict[str, Any]:
    found = mocks.client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[name])
    return dict(found["AutoScalingGroups"][0])


def test_the_group_offers_only_the_gpu_kinds_types_with_the_spot_split(deployed) -> None:
    outputs, mocks = deployed
    group = _group(mocks, outputs["group"])
    policy = group["MixedInstancesPolicy"]
    types = [o["InstanceType"] for o in policy["LaunchTemplate"]["Overrides"]]
    assert types == list(GROUP_INSTANCE_TYPES["nvidia-a10g"])
    assert all(t.startswith("g5.") for t in types)
    distribution = policy["InstancesDistribution"]
    assert distribution["SpotAllocationStrategy"] == "price-capacity-optimized"
    assert distribution["OnDemandBaseCapacity"] == 1
    assert distribution["OnDemandPercentageAboveBaseCapacity"] == 25
    assert group["CapacityRebalance"] is True
    assert (group["MinSize"], group["MaxSize"]) == (2, 6)
    assert len(group["VPCZoneIdentifier"].split(",")) == 2


def test_the_termination_hook_and_the_scaling_policy_exist(deployed) -> None:
    outputs, mocks = deployed
    client = mocks.client("autoscaling")
    hooks = client.describe_lifecycle_hooks(AutoScalingGroupName=outputs["group"])
    by_transition = {h["LifecycleTransition"]: h for h in hooks["LifecycleHooks"]}
    hook = by_transition["autoscaling:EC2_INSTANCE_TERMINATING"]
    assert hook["DefaultResult"] == "CONTINUE"
    # deregistration, the waiter's last poll, stop, margin
    assert hook["HeartbeatTimeout"] == 30 + 15 + 30 + 60
    launch = by_transition["autoscaling:EC2_INSTANCE_LAUNCHING"]
    assert (launch["DefaultResult"], launch["HeartbeatTimeout"]) == ("ABANDON", 1800)
    (policy,) = client.describe_policies(AutoScalingGroupName=outputs["group"])["ScalingPolicies"]
    tracking = policy["TargetTrackingConfiguration"]
    metric = tracking["PredefinedMetricSpecification"]
    assert metric["PredefinedMetricType"] == "ALBRequestCountPerTarget"
    balancers = mocks.client("elbv2").describe_load_balancers()["LoadBalancers"]
    lb_suffix = balancers[0]["LoadBalancerArn"].split(":loadbalancer/")[1]
    assert metric["ResourceLabel"].startswith(lb_suffix + "/targetgroup/")


def test_the_target_group_checks_readiness_and_the_group_registers_in_it(deployed) -> None:
    outputs, mocks = deployed
    elb = mocks.client("elbv2")
    (balancer,) = elb.describe_load_balancers()["LoadBalancers"]
    assert balancer["Scheme"] == "internal"
    assert len({z["ZoneName"] for z in balancer["AvailabilityZones"]}) == 2
    (target_group,) = elb.describe_target_groups()["TargetGroups"]
    assert target_group["HealthCheckPath"] == Routes.READY
    assert target_group["Port"] == PORT
    attributes = {
        a["Key"]: a["Value"]
        for a in elb.describe_target_group_attributes(
            TargetGroupArn=target_group["TargetGroupArn"]
        )["Attributes"]
    }
    assert attributes["deregistration_delay.timeout_seconds"] == "30"
    assert _group(mocks, outputs["group"])["TargetGroupARNs"] == [target_group["TargetGroupArn"]]
    (listener,) = elb.describe_listeners(LoadBalancerArn=balancer["LoadBalancerArn"])["Listeners"]
    assert listener["DefaultActions"][0]["TargetGroupArn"] == target_group["TargetGroupArn"]
    rules = elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]
    (stage,) = [r for r in rules if not r.get("IsDefault")]
    assert stage["Conditions"][0]["PathPatternConfig"]["Values"] == ["/prod/invocations"]
    assert stage["Actions"][0]["TargetGroupArn"] == target_group["TargetGroupArn"]


def _groups_by_description(mocks: MotoMocks) -> dict[str, dict[str, Any]]:
    groups = mocks.client("ec2").describe_security_groups()["SecurityGroups"]
    return {
        g["Description"].rsplit(": ", 1)[-1]: g for g in groups if "inferstack" in g["Description"]
    }


def test_only_the_load_balancer_reaches_the_instances_and_nothing_from_the_internet(
    deployed,
) -> None:
    _, mocks = deployed
    groups = _groups_by_description(mocks)
    instances, balancer = groups["GPU instances"], groups["internal load balancer"]
    (ingress,) = instances["IpPermissions"]
    assert (ingress["FromPort"], ingress["ToPort"]) == (PORT, PORT)
    assert [p["GroupId"] for p in ingress["UserIdGroupPairs"]] == [balancer["GroupId"]]
    assert ingress.get("IpRanges", []) == []
    for group in groups.values():
        for permission in group["IpPermissions"]:
            assert permission.get("IpRanges", []) == [], group["Description"]
            assert permission.get("Ipv6Ranges", []) == [], group["Description"]
    (from_link,) = balancer["IpPermissions"]
    assert [p["GroupId"] for p in from_link["UserIdGroupPairs"]] == [
        groups["API Gateway VPC link"]["GroupId"]
    ]
    subnets = mocks.client("ec2").describe_subnets()["Subnets"]
    ours = [s for s in subnets if s["CidrBlock"].startswith("10.42.")]
    assert len(ours) == 2
    assert not any(s["MapPublicIpOnLaunch"] for s in ours)
    gateways = mocks.client("ec2").describe_internet_gateways()["InternetGateways"]
    vpc_id = ours[0]["VpcId"]
    assert not any(a["VpcId"] == vpc_id for g in gateways for a in g.get("Attachments", []))


def test_the_launch_template_requires_imdsv2_encrypts_and_starts_the_pushed_image(
    deployed,
) -> None:
    _, mocks = deployed
    ec2 = mocks.client("ec2")
    (template,) = ec2.describe_launch_templates()["LaunchTemplates"]
    (version,) = ec2.describe_launch_template_versions(
        LaunchTemplateId=template["LaunchTemplateId"]
    )["LaunchTemplateVersions"]
    data = version["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    (root,) = data["BlockDeviceMappings"]
    assert root["Ebs"]["Encrypted"] is True
    assert data["NetworkInterfaces"][0]["AssociatePublicIpAddress"] is False
    assert data["ImageId"] in {
        i["ImageId"] for i in ec2.describe_images(Owners=["amazon"])["Images"]
    }
    user_data = base64.b64decode(data["UserData"]).decode()
    # The image the stack built from the bundle and pushed to its own repository.
    repository = mocks.client("ecr").describe_repositories()["repositories"][0]["repositoryUri"]
    assert f"docker pull {repository}:" in user_data
    assert f"{repository}:" in user_data.split("docker run", 1)[1]
    profile_arn = data["IamInstanceProfile"]["Arn"]
    (profile,) = mocks.client("iam").list_instance_profiles()["InstanceProfiles"]
    assert profile["Arn"] == profile_arn
    assert len(profile["Roles"]) == 1


def test_the_gateway_integrates_with_the_load_balancer_through_the_vpc_link(deployed) -> None:
    _, mocks = deployed
    (link,) = mocks.client("apigatewayv2").get_vpc_links()["Items"]
    api = mocks.client("apigateway")
    (rest,) = api.get_rest_apis()["items"]
    resources = api.get_resources(restApiId=rest["id"])["items"]
    invocations = next(r for r in resources if r.get("pathPart") == "invocations")
    integration = api.get_integration(
        restApiId=rest["id"], resourceId=invocations["id"], httpMethod="POST"
    )
    assert integration["type"] == "HTTP_PROXY"
    assert integration["connectionType"] == "VPC_LINK"
    balancer = mocks.client("elbv2").describe_load_balancers()["LoadBalancers"][0]
    assert integration["uri"] == f"http://{balancer['DNSName']}/invocations"
    # moto keeps neither the link id nor the target; botocore checked the call that set them.
    (sent,) = mocks.inputs["aws:apigateway/integration:Integration"]
    assert sent["connectionId"] == link["VpcLinkId"]
    assert sent["integrationTarget"] == balancer["LoadBalancerArn"]
