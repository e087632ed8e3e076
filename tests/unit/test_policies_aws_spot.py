"""The EC2 host rules (the instance group's launch template, plain instances, subnets):
each catches an insecure fixture and passes the clean one; the planned prod-aws-spot
stack passes every security rule."""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.policies import RULES, Subject, evaluate

SECURITY_RULES = tuple(r for r in RULES if not r.name.startswith("guardrail-"))
TEMPLATE = "aws:ec2/launchTemplate:LaunchTemplate"
INSTANCE = "aws:ec2/instance:Instance"

# As pulumi-aws records the group's launch template (booleans as strings).
CLEAN_TEMPLATE: dict[str, Any] = {
    "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required"},
    "blockDeviceMappings": [
        {"deviceName": "/dev/sda1", "ebs": {"encrypted": "true", "volumeSize": 100}}
    ],
    "networkInterfaces": [{"deviceIndex": 0, "associatePublicIpAddress": "false"}],
}
CLEAN_INSTANCE: dict[str, Any] = {
    "metadataOptions": {"httpTokens": "required"},
    "rootBlockDevice": {"encrypted": True},
    "associatePublicIpAddress": False,
}


def found(resources: list[Subject]) -> list[tuple[str, str | None]]:
    return [(v.policy, v.resource) for v in evaluate(resources, SECURITY_RULES)]


def test_clean_hosts_pass() -> None:
    assert (
        found([Subject(TEMPLATE, "lt", CLEAN_TEMPLATE), Subject(INSTANCE, "i", CLEAN_INSTANCE)])
        == []
    )
    assert found([Subject("aws:ec2/subnet:Subnet", "s", {"mapPublicIpOnLaunch": False})]) == []


@pytest.mark.parametrize(
    "metadata",
    [
        {},
        {"httpEndpoint": "enabled"},
        {"httpEndpoint": "enabled", "httpTokens": "optional"},
    ],
)
def test_imdsv1_is_caught(metadata: dict[str, Any]) -> None:
    template = {**CLEAN_TEMPLATE, "metadataOptions": metadata}
    instance = {**CLEAN_INSTANCE, "metadataOptions": metadata}
    assert found([Subject(TEMPLATE, "lt", template), Subject(INSTANCE, "i", instance)]) == [
        ("ec2-imdsv2-required", "lt"),
        ("ec2-imdsv2-required", "i"),
    ]


def test_no_metadata_service_at_all_passes() -> None:
    template = {**CLEAN_TEMPLATE, "metadataOptions": {"httpEndpoint": "disabled"}}
    assert found([Subject(TEMPLATE, "lt", template)]) == []


@pytest.mark.parametrize(
    "mappings",
    [
        [],
        [{"deviceName": "/dev/sda1", "ebs": {"volumeSize": 100}}],
        [{"deviceName": "/dev/sda1", "ebs": {"encrypted": "false"}}],
    ],
)
def test_unencrypted_template_volumes_are_caught(mappings: list[dict[str, Any]]) -> None:
    template = {**CLEAN_TEMPLATE, "blockDeviceMappings": mappings}
    assert found([Subject(TEMPLATE, "lt", template)]) == [("ec2-volumes-encrypted", "lt")]


def test_unencrypted_instance_and_volume_are_caught() -> None:
    instance = {**CLEAN_INSTANCE, "ebsBlockDevices": [{"encrypted": False}]}
    volume = Subject("aws:ebs/volume:Volume", "v", {"size": 10})
    assert found([Subject(INSTANCE, "i", instance), volume]) == [
        ("ec2-volumes-encrypted", "i"),
        ("ec2-volumes-encrypted", "v"),
    ]


@pytest.mark.parametrize(
    "interfaces",
    [
        [],  # the subnet decides: not stated, not trusted
        [{"deviceIndex": 0}],
        [{"deviceIndex": 0, "associatePublicIpAddress": "true"}],
    ],
)
def test_public_addresses_on_templates_are_caught(interfaces: list[dict[str, Any]]) -> None:
    template = {**CLEAN_TEMPLATE, "networkInterfaces": interfaces}
    assert found([Subject(TEMPLATE, "lt", template)]) == [("ec2-no-public-ip", "lt")]


def test_public_instance_and_subnet_are_caught() -> None:
    instance = {**CLEAN_INSTANCE, "associatePublicIpAddress": True}
    subnet = Subject("aws:ec2/subnet:Subnet", "s", {"mapPublicIpOnLaunch": True})
    assert found([Subject(INSTANCE, "i", instance), subnet]) == [
        ("ec2-no-public-ip", "i"),
        ("ec2-no-public-ip", "s"),
    ]


def test_the_ec2_rules_are_mandatory() -> None:
    rules = {r.name: r for r in RULES}
    for name in ("ec2-imdsv2-required", "ec2-volumes-encrypted", "ec2-no-public-ip"):
        assert rules[name].enforcement == "mandatory"


def test_the_planned_spot_stack_passes_every_security_rule(project_root: Any) -> None:
    from inferstack.components.plan.run import run_plan

    plan = run_plan("prod-aws-spot", project_root)
    subjects = [Subject(r.type, r.name, r.inputs) for r in plan.resources]
    assert any(s.type == TEMPLATE for s in subjects)
    assert found(subjects) == []
