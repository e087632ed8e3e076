"""The group's two zones come from the account's zones and EC2's offerings of the group's
types: a region whose b zone does not exist for the account, or offers no g5, still gets
two zones that can launch; pinned zones that cannot are refused naming the key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from inferstack.components.aws import AwsEndpoint, AwsEndpointOptions
from inferstack.components.aws.group_network import ZoneError, choose_zones
from inferstack.components.aws.plan_fakes import CALL_FAKES
from inferstack.components.plan.mocks import PlanMocks
from inferstack.components.plan.run import run_under_mocks
from tests.components.aws.group_specs import group_spec
from tests.components.aws.test_names import STACK

TYPES = ("g5.xlarge", "g5.2xlarge")
TOKYO = ["ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"]


def test_the_default_skips_zones_without_the_smallest_type() -> None:
    offered = {"ap-northeast-1a": {"g5.2xlarge"}, "ap-northeast-1c": set(TYPES)}
    offered["ap-northeast-1d"] = {"g5.xlarge"}
    assert choose_zones(None, TOKYO, offered, TYPES, "ap-northeast-1") == (
        "ap-northeast-1c",
        "ap-northeast-1d",
    )


def test_the_default_falls_back_to_any_offered_type() -> None:
    offered = {"ap-northeast-1a": {"g5.2xlarge"}, "ap-northeast-1c": {"g5.xlarge"}}
    assert choose_zones(None, TOKYO, offered, TYPES, "ap-northeast-1") == (
        "ap-northeast-1a",
        "ap-northeast-1c",
    )


def test_one_zone_is_not_enough() -> None:
    with pytest.raises(ZoneError, match="1 zone"):
        choose_zones(None, TOKYO, {"ap-northeast-1a": set(TYPES)}, TYPES, "ap-northeast-1")


def test_pinned_zones_must_exist_and_offer_the_types() -> None:
    offered = {z: set(TYPES) for z in TOKYO}
    pinned = ("ap-northeast-1a", "ap-northeast-1b")  # no 1b for new accounts
    with pytest.raises(
        ZoneError, match=re.escape("targets.aws.group.zones: ap-northeast-1b")
    ) as info:
        choose_zones(pinned, TOKYO, offered, TYPES, "ap-northeast-1")
    assert "ap-northeast-1c" in str(info.value)
    kept = ("ap-northeast-1d", "ap-northeast-1a")
    assert choose_zones(kept, TOKYO, offered, TYPES, "ap-northeast-1") == kept


def test_the_plan_places_subnets_where_the_types_are_offered(bundle: Path) -> None:
    def offerings(args: Any) -> dict[str, Any]:
        answer = CALL_FAKES["aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings"](args)
        rows = [
            (z, t)
            for z, t in zip(answer["locations"], answer["instanceTypes"], strict=True)
            if z != "us-east-1b"
        ]
        return {**answer, "locations": [z for z, _ in rows], "instanceTypes": [t for _, t in rows]}

    spec = group_spec(bundle)
    mocks = PlanMocks(
        ["aws"],
        call_fakes={"aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings": offerings},
    )
    plan = run_under_mocks(
        lambda: AwsEndpoint(spec.model.name, spec, options=AwsEndpointOptions()),
        mocks=mocks,
        stack=STACK,
        config={"aws:region": "us-east-1"},
    )
    zones = sorted(
        r.inputs["availabilityZone"] for r in plan.resources if r.type.endswith("Subnet")
    )
    assert zones == ["us-east-1a", "us-east-1c"]
