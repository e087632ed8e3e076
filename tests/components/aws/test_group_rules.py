"""The instance group's switch and limits refuse, before anything deploys, what EC2 Auto
Scaling, ELB or spot would refuse or lose, naming the key to change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from inferstack.components.aws.group_options import GROUP_INSTANCE_TYPES
from inferstack.components.aws.group_rules import (
    MAX_INSTANCE_TYPES,
    drain_budget_s,
    group_instance_types,
)
from inferstack.components.aws.rules import group_mode
from inferstack.components.spec.models import DeploymentSpec
from tests.components.aws.group_specs import group_spec, group_spec_data


def refused(bundle: Path, changes: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        group_spec(bundle, changes)
    return str(info.value)


def test_spot_true_selects_the_group(bundle: Path) -> None:
    spec = group_spec(bundle)
    assert group_mode(spec)
    assert group_instance_types(spec) == GROUP_INSTANCE_TYPES["nvidia-a10g"]


def test_an_explicit_mode_selects_the_group_without_spot(bundle: Path) -> None:
    spec = group_spec(
        bundle, {"compute": {"spot": False}, "targets": {"aws": {"mode": "instance_group"}}}
    )
    assert group_mode(spec)


def test_sagemaker_stays_the_default_without_spot(bundle: Path) -> None:
    data = group_spec_data(bundle)
    data["compute"]["spot"] = False
    del data["targets"]
    assert not group_mode(DeploymentSpec.model_validate(data))


def test_spot_with_a_sagemaker_mode_names_both_keys(bundle: Path) -> None:
    message = refused(bundle, {"targets": {"aws": {"mode": "realtime"}}})
    assert "compute.spot" in message
    assert "targets.aws.mode: instance_group" in message
    assert "compute.spot: false" in message


def test_group_settings_outside_the_group_are_refused(bundle: Path) -> None:
    message = refused(bundle, {"compute": {"spot": False}})
    assert "targets.aws.group" in message
    assert "instance_group" in message


def test_cpu_is_refused(bundle: Path) -> None:
    assert "compute.accelerator" in refused(bundle, {"compute": {"accelerator": "none"}})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"rollout": {"strategy": "canary", "canary_percent": 10}}, "rollout.strategy"),
        ({"scaling": {"min_replicas": 0}}, "scaling.min_replicas"),
        ({"targets": {"aws": {"instance_type": "ml.g5.xlarge"}}}, "targets.aws.instance_type"),
        (
            {
                "scaling": {
                    "schedules": [
                        {"name": "n", "cron": "0 1 * * *", "min_replicas": 1, "max_replicas": 1}
                    ]
                }
            },
            "scaling.schedules",
        ),
    ],
)
def test_what_the_group_cannot_do_is_refused(bundle: Path, changes: dict, field: str) -> None:
    assert field in refused(bundle, changes)


def test_the_instance_types_must_carry_the_gpu_kind(bundle: Path) -> None:
    message = refused(bundle, {"targets": {"aws": {"group": {"instance_types": ["g4dn.xlarge"]}}}})
    assert "targets.aws.group.instance_types" in message
    assert "nvidia-a10g" in message


def test_at_most_forty_instance_types(bundle: Path) -> None:
    many = [f"g5.{s}" for s in ("xlarge", "2xlarge", "4xlarge", "8xlarge")] * 11
    message = refused(bundle, {"targets": {"aws": {"group": {"instance_types": many}}}})
    assert f"at most {MAX_INSTANCE_TYPES}" in message


def test_the_gpu_count_must_match_every_type(bundle: Path) -> None:
    changes = {
        "compute": {"gpu_count": 1},
        "targets": {"aws": {"group": {"instance_types": ["g5.xlarge", "g5.12xlarge"]}}},
    }
    assert "g5.12xlarge" in refused(bundle, changes)
    group_spec(
        bundle, {**changes, "targets": {"aws": {"group": {"instance_types": ["g5.xlarge"]}}}}
    )


def test_on_demand_ranges(bundle: Path) -> None:
    assert "on_demand_base" in refused(bundle, {"compute": {"on_demand_base": 7}})
    message = refused(
        bundle, {"targets": {"aws": {"group": {"on_demand_percent_above_base": 101}}}}
    )
    assert "on_demand_percent_above_base" in message
    group_spec(
        bundle,
        {
            "compute": {"on_demand_base": 6},
            "targets": {"aws": {"group": {"on_demand_percent_above_base": 100}}},
        },
    )


def test_deregistration_must_cover_the_drain(bundle: Path) -> None:
    changes = {"targets": {"aws": {"group": {"deregistration_delay_s": 10, "drain_s": 25}}}}
    message = refused(bundle, changes)
    assert "deregistration_delay_s" in message
    assert "drain" in message


def test_the_drain_fits_the_spot_notice_at_its_longest(bundle: Path) -> None:
    # 110 s of the 120 s notice: deregistration + the waiter's 15 s + drain + 5 s stop
    # margin (55 s + 50 s passed before, and the agent could take 145 s).
    fits = {"targets": {"aws": {"group": {"deregistration_delay_s": 50, "drain_s": 40}}}}
    assert drain_budget_s(group_spec(bundle, fits)) == 110
    longer = {"targets": {"aws": {"group": {"deregistration_delay_s": 51, "drain_s": 40}}}}
    assert "120s after its notice" in refused(bundle, longer)
    # On-demand only, no notice: the longest ELB delay is accepted.
    on_demand = {
        "compute": {"spot": False},
        "targets": {"aws": {"mode": "instance_group", "group": {"deregistration_delay_s": 3600}}},
    }
    group_spec(bundle, on_demand)
    too_long = {
        "targets": {"aws": {"mode": "instance_group", "group": {"deregistration_delay_s": 3601}}}
    }
    assert "deregistration_delay_s" in refused(bundle, {**on_demand, **too_long})


def test_the_replacement_range_is_at_most_100_points(bundle: Path) -> None:
    wide = {"targets": {"aws": {"group": {"refresh_min_healthy_percent": 90}}}}
    message = refused(bundle, wide)
    assert "refresh_max_healthy_percent" in message
    assert "more than 100 above" in message
    group_spec(
        bundle,
        {
            "targets": {
                "aws": {
                    "group": {
                        "refresh_min_healthy_percent": 90,
                        "refresh_max_healthy_percent": 190,
                    }
                }
            }
        },
    )


def test_a_pinned_ami_is_an_ami_id(bundle: Path) -> None:
    assert "ami_id" in refused(bundle, {"targets": {"aws": {"group": {"ami_id": "latest"}}}})


def test_zones_must_be_two_of_the_region(bundle: Path) -> None:
    same = {"targets": {"aws": {"group": {"zones": ["us-east-1a", "us-east-1a"]}}}}
    assert "two different zones" in refused(bundle, same)
    other = {"targets": {"aws": {"group": {"zones": ["eu-west-1a", "eu-west-1b"]}}}}
    assert "not zones of us-east-1" in refused(bundle, other)
    beyond = {"targets": {"aws": {"group": {"zones": ["us-east-1a", "us-east-1q"]}}}}
    assert "a to p" in refused(bundle, beyond)


def test_the_cost_estimate_prices_the_groups_ec2_type(bundle: Path) -> None:
    from inferstack.components.targets import get_target

    aws = get_target("aws")
    assert aws.instance_type_for(group_spec(bundle)) == "g5.xlarge"
    data = group_spec_data(bundle)
    data["compute"]["spot"] = False
    del data["targets"]
    assert aws.instance_type_for(DeploymentSpec.model_validate(data)) == "ml.g5.xlarge"
