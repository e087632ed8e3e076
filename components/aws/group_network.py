"""The instance group's network: a VPC with two private subnets in two zones, no internet
gateway and no public addresses; VPC endpoints for what the instances call (ECR, S3,
CloudWatch Logs and metrics, Auto Scaling, ELB); and the security groups that let only
the VPC link reach the load balancer and only the load balancer reach the instances."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from inferstack.components.aws.context import AwsContext
from inferstack.components.aws.group_rules import group_instance_types
from inferstack.components.aws.naming import SECURITY_GROUP, auto_logical
from inferstack.components.aws.rules import aws_options
from inferstack.components.errors import DeployError
from inferstack.runtime.contract import PORT

LISTENER_PORT = 80
"""The load balancer's listener (HTTP inside the VPC; API Gateway terminates TLS)."""
INTERFACE_ENDPOINTS = (
    "ecr.api",
    "ecr.dkr",
    "logs",
    "monitoring",
    "autoscaling",
    "elasticloadbalancing",
)
"""Services the hosts call over interface endpoints (S3 has a gateway endpoint): image
pull, logs, the agent's metrics, the lifecycle action and the deregistration."""


SUBNET_PREFIX = 20
"""Each zone's private subnet: a /20 of the /16."""


def zone_slot(zone: str) -> int:
    """The /20 slot of a zone's subnet: its letter (a: 0, b: 1, ...). A stable key, so a
    changed zone gets a CIDR of its own and its new subnet can be created before the old
    one goes (subnet CIDRs in a VPC cannot overlap)."""
    return ord(zone[-1]) - ord("a")


def subnet_cidr(vpc_cidr: str, zone: str) -> str:
    """The private /20 of `zone` in the /16."""
    network = ipaddress.ip_network(vpc_cidr, strict=False)
    return str(list(network.subnets(new_prefix=SUBNET_PREFIX))[zone_slot(zone)])


class ZoneError(DeployError):
    """The region has no two zones (or not the spec's) where the group's types run."""


def choose_zones(
    pinned: tuple[str, str] | None,
    available: list[str],
    offered: dict[str, set[str]],
    types: tuple[str, ...],
    region: str,
) -> tuple[str, str]:
    """The group's two zones. `available`: the account's zones of the region that need no
    opt-in; `offered`: zone -> the group's types EC2 offers there. Pinned zones must be
    available and offer one of the types; the default is the first two such zones by name
    that offer the smallest type (else any of them)."""
    usable = sorted(z for z in available if offered.get(z))
    if pinned is not None:
        wrong = [z for z in pinned if z not in usable]
        if wrong:
            raise ZoneError(
                f"targets.aws.group.zones: {', '.join(wrong)} not an available zone of "
                f"{region} offering {', '.join(types)} in this account; zones that do: "
                f"{', '.join(usable) or 'none'}"
            )
        return pinned
    smallest = [z for z in usable if types and types[0] in offered[z]]
    chosen = smallest if len(smallest) >= 2 else usable
    if len(chosen) < 2:
        raise ZoneError(
            f"{region} has {len(chosen)} zone(s) offering {', '.join(types)} to this "
            "account (an ALB needs two); choose another region or other "
            "targets.aws.group.instance_types"
        )
    return chosen[0], chosen[1]


def group_zones(ctx: AwsContext) -> tuple[str, str]:
    """The two zones, from the account's zones and EC2's offerings of the group's types
    (read at each deploy; `targets.aws.group.zones` pins them)."""
    types = group_instance_types(ctx.spec)
    zones = aws.get_availability_zones(
        region=ctx.region,
        state="available",
        filters=[{"name": "opt-in-status", "values": ["opt-in-not-required"]}],
    )
    offerings = aws.ec2.get_instance_type_offerings(
        region=ctx.region,
        location_type="availability-zone",
        filters=[{"name": "instance-type", "values": list(types)}],
    )
    offered: dict[str, set[str]] = {}
    for zone, kind in zip(offerings.locations, offerings.instance_types, strict=True):
        offered.setdefault(zone, set()).add(kind)
    return choose_zones(
        aws_options(ctx.spec).group.zones, list(zones.names), offered, types, ctx.region
    )


@dataclass(frozen=True)
class GroupNetworkArgs:
    """Where the group runs."""

    ctx: AwsContext
    """The deployment's spec (targets.aws.group.vpc_cidr, zones), tags and region."""


class GroupNetwork(pulumi.ComponentResource):
    """A private VPC, its endpoints and the group's three security groups."""

    vpc_id: pulumi.Output[str]
    """The VPC."""
    subnet_ids: list[pulumi.Output[str]]
    """Two private subnets in two zones."""
    link_security_group_id: pulumi.Output[str]
    """The VPC link's ENIs: may reach the load balancer's listener only."""
    balancer_security_group_id: pulumi.Output[str]
    """The load balancer: in from the VPC link, out to the instances' port."""
    instance_security_group_id: pulumi.Output[str]
    """The instances: in from the load balancer on the runtime's port only."""

    def __init__(
        self, name: str, args: GroupNetworkArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("inferstack:aws:GroupNetwork", name, None, opts)
        ctx = args.ctx
        child = pulumi.ResourceOptions(parent=self)
        cidr = aws_options(ctx.spec).group.vpc_cidr
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cidr,
            enable_dns_support=True,
            enable_dns_hostnames=True,  # interface endpoints' private DNS needs both
            tags={**ctx.tags, "Name": ctx.names.endpoint},
            opts=child,
        )
        routes = aws.ec2.RouteTable(f"{name}-private", vpc_id=vpc.id, tags=ctx.tags, opts=child)
        subnets = []
        # Keyed by zone (name and CIDR): a changed zone adds one subnet and removes
        # another, and swapped zones change nothing.
        for zone in group_zones(ctx):
            subnet = aws.ec2.Subnet(
                f"{name}-subnet-{zone}",
                vpc_id=vpc.id,
                cidr_block=subnet_cidr(cidr, zone),
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={**ctx.tags, "Name": f"{ctx.names.endpoint}-{zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-subnet-{zone}-routes",
                subnet_id=subnet.id,
                route_table_id=routes.id,
                opts=child,
            )
            subnets.append(subnet)
        groups = {
            role: aws.ec2.SecurityGroup(
                auto_logical(SECURITY_GROUP, f"{name}-{role}"),
                vpc_id=vpc.id,
                description=f"inferstack {ctx.names.endpoint}: {what}",
                tags=ctx.tags,
                opts=child,
            )
            for role, what in (
                ("link", "API Gateway VPC link"),
                ("balancer", "internal load balancer"),
                ("instances", "GPU instances"),
                ("endpoints", "VPC endpoints"),
            )
        }
        _rules(name, ctx, groups, self)
        _endpoints(name, ctx, vpc, routes, subnets, groups["endpoints"], self)
        self.vpc_id = vpc.id
        self.subnet_ids = [s.id for s in subnets]
        self.link_security_group_id = groups["link"].id
        self.balancer_security_group_id = groups["balancer"].id
        self.instance_security_group_id = groups["instances"].id
        self.register_outputs({"vpc_id": self.vpc_id, "subnet_ids": self.subnet_ids})


def _rules(
    name: str, ctx: AwsContext, groups: dict[str, aws.ec2.SecurityGroup], parent: pulumi.Resource
) -> None:
    """Each hop allowed by security group reference, nothing from the internet: link ->
    balancer:80 -> instances:8080; instances -> endpoints:443 (and S3's prefix list via
    the gateway endpoint, reached through 443 to anywhere, which has no route out)."""
    child = pulumi.ResourceOptions(parent=parent)
    hops = (
        ("link", "balancer", LISTENER_PORT),
        ("balancer", "instances", PORT),
        ("instances", "endpoints", 443),
    )
    for source, dest, port in hops:
        aws.vpc.SecurityGroupEgressRule(
            f"{name}-{source}-to-{dest}",
            security_group_id=groups[source].id,
            referenced_security_group_id=groups[dest].id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=f"to the {dest} on {port}",
            tags=ctx.tags,
            opts=child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-{dest}-from-{source}",
            security_group_id=groups[dest].id,
            referenced_security_group_id=groups[source].id,
            ip_protocol="tcp",
            from_port=port,
            to_port=port,
            description=f"from the {source} on {port}",
            tags=ctx.tags,
            opts=child,
        )
    # S3 (the bundle, ECR's layers) through the gateway endpoint: its prefix list is only
    # known per region, and the VPC has no other way out, so 443 to the VPC's own range
    # and to S3 is all the instances can reach.
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-instances-to-s3",
        security_group_id=groups["instances"].id,
        cidr_ipv4="0.0.0.0/0",
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        description="HTTPS to S3 through the gateway endpoint (the VPC has no internet route)",
        tags=ctx.tags,
        opts=child,
    )


def _endpoints(
    name: str,
    ctx: AwsContext,
    vpc: aws.ec2.Vpc,
    routes: aws.ec2.RouteTable,
    subnets: list[aws.ec2.Subnet],
    group: aws.ec2.SecurityGroup,
    parent: pulumi.Resource,
) -> None:
    child = pulumi.ResourceOptions(parent=parent)
    aws.ec2.VpcEndpoint(
        f"{name}-s3",
        vpc_id=vpc.id,
        service_name=f"com.amazonaws.{ctx.region}.s3",
        vpc_endpoint_type="Gateway",
        route_table_ids=[routes.id],
        tags=ctx.tags,
        opts=child,
    )
    for service in INTERFACE_ENDPOINTS:
        aws.ec2.VpcEndpoint(
            f"{name}-{service.replace('.', '-')}",
            vpc_id=vpc.id,
            service_name=f"com.amazonaws.{ctx.region}.{service}",
            vpc_endpoint_type="Interface",
            private_dns_enabled=True,
            subnet_ids=[s.id for s in subnets],
            security_group_ids=[group.id],
            tags=ctx.tags,
            opts=child,
        )
