"""The instance group under the offline plan's mocks: every name fits its AWS rule at the
longest model and stack names, and the plan wires the group, the load balancer, the
scaling policy and the gateway together as the issue asks."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from inferstack.components.aws import AwsEndpoint, AwsEndpointOptions
from inferstack.components.aws.group import AmiError, RootDevice, root_device
from inferstack.components.aws.group_drain import DRAIN_SCRIPT
from inferstack.components.aws.group_options import DLAMI_PARAMETER, GROUP_INSTANCE_TYPES
from inferstack.components.plan.mocks import PlanMocks
from inferstack.components.plan.run import Plan, PlannedResource, run_under_mocks
from inferstack.runtime.contract import Routes
from tests.components.aws.conftest import write_bundle
from tests.components.aws.group_specs import group_spec
from tests.components.aws.test_names import MODEL, NAME_RULES, STACK, UNNAMED, problems_of

# Types of the group that take no name of their own.
GROUP_UNNAMED = {
    "aws:ec2/vpc:Vpc",
    "aws:ec2/subnet:Subnet",
    "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation",
    "aws:ec2/vpcEndpoint:VpcEndpoint",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:lb/listener:Listener",
    "aws:lb/listenerRule:ListenerRule",
}


def plan_group(bundle: Path, changes: dict[str, Any] | None = None, stack: str = STACK) -> Plan:
    spec = group_spec(bundle, {"model": {"name": MODEL}, **(changes or {})})
    return run_under_mocks(
        lambda: AwsEndpoint(spec.model.name, spec, options=AwsEndpointOptions()),
        mocks=PlanMocks(["aws"]),
        stack=stack,
        config={"aws:region": "us-east-1"},
    )


def one(plan: Plan, token: str) -> PlannedResource:
    found = [r for r in plan.resources if r.type == token]
    assert len(found) == 1, [r.name for r in found]
    return found[0]


@pytest.fixture(scope="module")
def plan(bundle: Path) -> Plan:
    return plan_group(bundle)


def test_every_name_fits_at_the_longest_model_and_stack(plan: Plan) -> None:
    assert problems_of(plan) == []
    ruled = {r.token for r in NAME_RULES}
    unknown = {
        r.type
        for r in plan.resources
        if r.type.startswith("aws:") and r.type not in ruled | UNNAMED | GROUP_UNNAMED
    }
    assert unknown == set()


def test_no_sagemaker_in_the_group_mode(plan: Plan) -> None:
    types = {r.type for r in plan.resources}
    assert not any(t.startswith("aws:sagemaker") for t in types)
    assert "aws:appautoscaling/target:Target" not in types


def test_the_group_mixes_the_gpu_kinds_types_with_spot(plan: Plan) -> None:
    asg = one(plan, "aws:autoscaling/group:Group").inputs
    policy = asg["mixedInstancesPolicy"]
    types = [o["instanceType"] for o in policy["launchTemplate"]["overrides"]]
    assert types == list(GROUP_INSTANCE_TYPES["nvidia-a10g"])
    assert policy["instancesDistribution"] == {
        "onDemandBaseCapacity": 1,
        "onDemandPercentageAboveBaseCapacity": 25,
        "onDemandAllocationStrategy": "prioritized",
        "spotAllocationStrategy": "price-capacity-optimized",
    }
    assert asg["capacityRebalance"] is True
    assert (asg["minSize"], asg["maxSize"]) == (2, 6)
    assert "desiredCapacity" not in asg  # an update never resets autoscaling's choice
    refresh = asg["instanceRefresh"]
    assert refresh["strategy"] == "Rolling"
    assert refresh["preferences"]["autoRollback"] is True
    assert refresh["preferences"]["checkpointPercentages"] == [50, 100]
    # The group names the template's version, so a template change starts a refresh.
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate")
    spec_ = policy["launchTemplate"]["launchTemplateSpecification"]
    assert spec_["version"] == "1"
    assert spec_["launchTemplateId"].startswith("lt-")
    assert template.name in {r.name for r in plan.resources}


def test_replacements_launch_before_they_terminate(plan: Plan) -> None:
    # With the provider's default maximum (100) a refresh terminates first, and a
    # 2-host group serves on one host during each step.
    asg = one(plan, "aws:autoscaling/group:Group").inputs
    preferences = asg["instanceRefresh"]["preferences"]
    assert (preferences["minHealthyPercentage"], preferences["maxHealthyPercentage"]) == (100, 200)
    assert asg["instanceMaintenancePolicy"] == {
        "minHealthyPercentage": 100,
        "maxHealthyPercentage": 200,
    }


def test_failed_spot_launches_do_not_fail_the_deploy(plan: Plan) -> None:
    # The provider's capacity wait errors on any failed scaling activity (a spot pool
    # without capacity is one) unless told to ignore them; the capacity wait remains.
    asg = one(plan, "aws:autoscaling/group:Group").inputs
    assert asg["ignoreFailedScalingActivities"] is True
    assert asg["waitForCapacityTimeout"]


def test_the_template_boots_the_dlami_with_imdsv2_encryption_and_no_public_ip(plan: Plan) -> None:
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert template["imageId"].startswith("ami-")
    assert template["metadataOptions"]["httpTokens"] == "required"
    assert template["blockDeviceMappings"][0]["ebs"]["encrypted"] == "true"
    assert template["networkInterfaces"][0]["associatePublicIpAddress"] == "false"
    user_data = base64.b64decode(template["userData"]).decode()
    image = one(plan, "docker:index/image:Image").inputs["imageName"]
    assert f"docker pull {image}" in user_data
    assert DRAIN_SCRIPT in user_data
    assert DLAMI_PARAMETER.startswith("/aws/service/deeplearning/ami/x86_64/")


def test_the_dlami_read_at_the_first_deploy_is_kept(plan: Plan, bundle: Path) -> None:
    # AWS republishes the parameter with each DLAMI release; a new value would make a new
    # template version and refresh the whole fleet on an unrelated `up`.
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate")
    assert "imageId" in template.ignore_changes
    pinned = plan_group(
        bundle, {"targets": {"aws": {"group": {"ami_id": "ami-0123456789abcdef0"}}}}
    )
    template = one(pinned, "aws:ec2/launchTemplate:LaunchTemplate")
    assert template.inputs["imageId"] == "ami-0123456789abcdef0"
    assert "imageId" not in template.ignore_changes  # a new pinned AMI rolls out


def test_instances_enter_service_only_once_the_runtime_is_ready(plan: Plan) -> None:
    # The launch hook exists with the group (its first instances wait too) and holds each
    # new instance out of the target group until user data saw /ready; a failure abandons.
    asg = one(plan, "aws:autoscaling/group:Group").inputs
    (hook,) = asg["initialLifecycleHooks"]
    assert hook["lifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    assert (hook["defaultResult"], hook["heartbeatTimeout"]) == ("ABANDON", 1800)
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate").inputs
    user_data = base64.b64decode(template["userData"]).decode()
    assert f"--lifecycle-hook-name {hook['name']} " in user_data
    ready = user_data.index(f"http://127.0.0.1:8080{Routes.READY}")
    assert ready < user_data.index("retry launched CONTINUE")
    assert "retry launched ABANDON" in user_data.split("EXIT")[0]
    image = one(plan, "docker:index/image:Image").inputs["imageName"]
    for call in ("retry aws s3 cp", "retry ecr_login", f"retry docker pull {image}"):
        assert call in user_data
    assert asg["waitForCapacityTimeout"] == "40m"  # the heartbeat and a relaunch


def test_the_root_device_is_the_amis_own(plan: Plan, bundle: Path) -> None:
    # Read from the AMI (a wrong device name adds a volume and leaves the root as the
    # snapshot made it); a root volume smaller than the AMI's snapshot is refused.
    template = one(plan, "aws:ec2/launchTemplate:LaunchTemplate").inputs
    assert template["blockDeviceMappings"][0]["deviceName"] == "/dev/sda1"
    image = SimpleNamespace(
        id="ami-0123456789abcdef0",
        root_device_name="/dev/xvda",
        block_device_mappings=[
            SimpleNamespace(device_name="/dev/xvda", ebs={"volume_size": "120"}),
            SimpleNamespace(device_name="/dev/sdb", ebs={"volume_size": "900"}),
        ],
    )
    assert root_device(image, 120) == RootDevice("/dev/xvda", 120)
    with pytest.raises(AmiError, match="root_volume_gb is 100 GB, smaller"):
        root_device(image, 100)


def test_the_load_balancer_checks_readiness_and_waits_for_the_drain(plan: Plan) -> None:
    balancer = one(plan, "aws:lb/loadBalancer:LoadBalancer").inputs
    assert balancer["internal"] is True
    assert len(balancer["subnets"]) == 2
    target_group = one(plan, "aws:lb/targetGroup:TargetGroup").inputs
    assert target_group["healthCheck"]["path"] == Routes.READY
    assert target_group["deregistrationDelay"] == 30
    assert target_group["port"] == 8080
    subnets = [r.inputs["availabilityZone"] for r in plan.resources if r.type.endswith("Subnet")]
    assert sorted(subnets) == ["us-east-1a", "us-east-1b"]


def test_the_stage_prefixed_path_is_rewritten_to_the_runtimes_route(plan: Plan) -> None:
    # AWS documents that private integrations include the stage in the backend path.
    rule = one(plan, "aws:lb/listenerRule:ListenerRule").inputs
    assert rule["conditions"] == [{"pathPattern": {"values": ["/prod/invocations"]}}]
    rewrite = rule["transforms"][0]["urlRewriteConfig"]["rewrite"]
    assert re.sub(rewrite["regex"], rewrite["replace"], "/prod/invocations") == Routes.INVOCATIONS


def test_the_scaling_policy_tracks_requests_per_target(plan: Plan) -> None:
    policy = one(plan, "aws:autoscaling/policy:Policy").inputs
    tracking = policy["targetTrackingConfiguration"]
    metric = tracking["predefinedMetricSpecification"]
    assert metric["predefinedMetricType"] == "ALBRequestCountPerTarget"
    balancer = one(plan, "aws:lb/loadBalancer:LoadBalancer")
    assert metric["resourceLabel"].startswith("app/")
    assert "/targetgroup/" in metric["resourceLabel"]
    assert tracking["targetValue"] == 600
    assert policy["estimatedInstanceWarmup"] == 300
    assert balancer.inputs["loadBalancerType"] == "application"


def test_the_gateway_reaches_the_load_balancer_through_the_vpc_link(plan: Plan) -> None:
    integration = one(plan, "aws:apigateway/integration:Integration").inputs
    link = one(plan, "aws:apigatewayv2/vpcLink:VpcLink")
    assert integration["type"] == "HTTP_PROXY"
    assert integration["connectionType"] == "VPC_LINK"
    assert integration["connectionId"]
    assert len(link.inputs["subnetIds"]) == 2
    assert integration["integrationTarget"].startswith("arn:aws:elasticloadbalancing:")
    assert integration["uri"].endswith("/invocations")
    # Auth, throttling and access logs are the same stage and method as SageMaker's.
    assert one(plan, "aws:apigateway/method:Method").inputs["apiKeyRequired"] is True
    stage = one(plan, "aws:apigateway/stage:Stage").inputs
    assert stage["accessLogSettings"]["destinationArn"]


def test_a_replaced_vpc_link_redeploys_the_stage(bundle: Path) -> None:
    # A new VPC link (its subnets or security group changed: both replace it) leaves the
    # integration URI as it was; the stage must still serve a deployment that uses it.
    def planned_with_link(link_id: str) -> Plan:
        spec = group_spec(bundle, {"model": {"name": MODEL}})
        mocks = PlanMocks(
            ["aws"], resource_fakes={"aws:apigatewayv2/vpcLink:VpcLink": lambda _: {"id": link_id}}
        )
        return run_under_mocks(
            lambda: AwsEndpoint(spec.model.name, spec, options=AwsEndpointOptions()),
            mocks=mocks,
            stack=STACK,
            config={"aws:region": "us-east-1"},
        )

    before, after = planned_with_link("vl-old0001"), planned_with_link("vl-new0002")
    token = "aws:apigateway/deployment:Deployment"
    assert one(before, token).inputs["triggers"] != one(after, token).inputs["triggers"]
    integration = "aws:apigateway/integration:Integration"
    assert one(before, integration).inputs["uri"] == one(after, integration).inputs["uri"]


def test_subnets_are_keyed_by_zone(bundle: Path, plan: Plan) -> None:
    # A changed zone creates its subnet (a CIDR of its own) before the old one goes;
    # the same CIDR by position would conflict with the live subnet.
    def subnets(p: Plan) -> dict[str, tuple[str, str]]:
        return {
            r.name: (r.inputs["availabilityZone"], r.inputs["cidrBlock"])
            for r in p.resources
            if r.type == "aws:ec2/subnet:Subnet"
        }

    first = subnets(plan)
    moved = subnets(
        plan_group(bundle, {"targets": {"aws": {"group": {"zones": ["us-east-1c", "us-east-1a"]}}}})
    )
    kept = set(first) & set(moved)
    assert len(kept) == 1
    assert first[next(iter(kept))][0] == "us-east-1a"
    assert first[next(iter(kept))] == moved[next(iter(kept))]
    assert sorted(c for _, c in first.values()) == ["10.42.0.0/20", "10.42.16.0/20"]
    assert {c for _, c in moved.values()} == {"10.42.0.0/20", "10.42.32.0/20"}


def test_alarms_and_the_dashboard_watch_the_group(plan: Plan) -> None:
    alarms = [r for r in plan.resources if r.type == "aws:cloudwatch/metricAlarm:MetricAlarm"]
    whats = {r.name.rsplit("-observability-", 1)[1] for r in alarms}
    assert whats >= {
        "unhealthy-hosts",
        "target-5xx-rate",
        "target-latency-p99",
        "spot-interruptions",
        "rebalance-recommendations",
        "api-5xx",
        "api-latency-p99",
    }
    # A notice is one datapoint: those alarms fire on it, the others on 3 of 5 minutes.
    by_what = {r.name.rsplit("-observability-", 1)[1]: r.inputs for r in alarms}
    for what in ("spot-interruptions", "rebalance-recommendations"):
        assert (by_what[what]["evaluationPeriods"], by_what[what]["datapointsToAlarm"]) == (1, 1)
    assert by_what["unhealthy-hosts"]["datapointsToAlarm"] == 3
    # With every target gone, unhealthy hosts and target 5xx stay 0: these two notice.
    healthy = by_what["healthy-hosts"]
    assert (healthy["metricName"], healthy["comparisonOperator"]) == (
        "HealthyHostCount",
        "LessThanThreshold",
    )
    assert healthy["threshold"] == 2  # min_replicas
    assert by_what["load-balancer-5xx"]["metricName"] == "HTTPCode_ELB_5XX_Count"
    assert by_what["target-5xx-rate"]["comparisonOperator"] == "GreaterThanThreshold"
    body = json.loads(one(plan, "aws:cloudwatch/dashboard:Dashboard").inputs["dashboardBody"])
    capacity = body["widgets"][0]["properties"]
    assert "spot and on-demand" in capacity["title"]
    assert [m[5] for m in capacity["metrics"]] == ["spot", "on-demand"]


def test_the_hosts_policy_is_their_own(plan: Plan) -> None:
    policy = next(r for r in plan.resources if r.type == "aws:iam/rolePolicy:RolePolicy").inputs[
        "policy"
    ]
    statements = {s["Sid"]: s for s in json.loads(policy)["Statement"]}
    drain = statements["DrainFromTargetGroup"]["Resource"]
    assert drain.startswith("arn:aws:elasticloadbalancing:us-east-1:")
    assert ":targetgroup/" in drain
    assert statements["CompleteOwnLifecycleAction"]["Resource"].endswith(
        "autoScalingGroupName/" + one(plan, "aws:autoscaling/group:Group").inputs["name"]
    )
    assert statements["PublishOwnMetrics"]["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": "inferstack"}
    }


def test_gpu_utilisation_scaling_reads_the_agents_metric(bundle: Path) -> None:
    plan = plan_group(bundle, {"scaling": {"target_metric": "gpu_utilization", "target_value": 70}})
    tracking = one(plan, "aws:autoscaling/policy:Policy").inputs["targetTrackingConfiguration"]
    custom = tracking["customizedMetricSpecification"]
    assert (custom["namespace"], custom["metricName"]) == ("inferstack", "GPUUtilization")
    assert custom["metricDimensions"][0]["name"] == "AutoScalingGroupName"


def test_on_demand_only_group_without_spot(bundle: Path) -> None:
    plan = plan_group(
        bundle, {"compute": {"spot": False}, "targets": {"aws": {"mode": "instance_group"}}}
    )
    asg = one(plan, "aws:autoscaling/group:Group").inputs
    distribution = asg["mixedInstancesPolicy"]["instancesDistribution"]
    assert distribution["onDemandPercentageAboveBaseCapacity"] == 100
    assert asg["capacityRebalance"] is False


def test_a_new_model_version_updates_the_group_in_place(bundle: Path, tmp_path: Path) -> None:
    # The group's name is the only argument that replaces it, and the load balancer and
    # target group keep their logical names: a new version changes the launch template
    # (a new version, so an instance refresh), not the group or the load balancer.
    newer = write_bundle(tmp_path / "b2", "1.3.0")
    first = plan_group(bundle)
    second = plan_group(
        newer, {"model": {"name": MODEL, "version": "1.3.0", "artifact": str(newer)}}
    )
    kept = (
        "aws:autoscaling/group:Group",
        "aws:lb/loadBalancer:LoadBalancer",
        "aws:lb/targetGroup:TargetGroup",
    )
    for token in kept:
        assert one(first, token).name == one(second, token).name
    assert one(first, kept[0]).inputs["name"] == one(second, kept[0]).inputs["name"]
    before = one(first, "aws:ec2/launchTemplate:LaunchTemplate")
    after = one(second, "aws:ec2/launchTemplate:LaunchTemplate")
    assert before.name == after.name  # the same template, a new version of it
    assert before.inputs["userData"] != after.inputs["userData"]
