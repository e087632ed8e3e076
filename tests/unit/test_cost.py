"""The monthly cost estimate: the shipped price table, the arithmetic and the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from inferstack.components import load_spec
from inferstack.components.cost.estimate import estimate_cost
from inferstack.components.cost.table import PriceTable, load_price_table
from inferstack.components.targets import get_target, target_names

ROOT = Path(__file__).resolve().parents[2]


def spec(target: str = "gcp", **overrides: Any) -> Any:
    data: dict[str, Any] = {
        "target": target,
        "environment": "dev",
        "model": {"name": "churn", "version": "1.0.0", "framework": "sklearn", "artifact": "x"},
    }
    if target == "gcp":  # GKE's managed certificate needs a host name
        data["targets"] = {"gcp": {"domain": "churn.example.com"}}
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return load_spec(data)


def table(target: str = "gcp", **instances: dict[str, Any]) -> PriceTable:
    """A table with one region of `target` and the given instance prices."""
    return PriceTable.model_validate(
        {
            "currency": "USD",
            "as_of": "2026-01-01",
            "hours_per_month": 100,
            "note": "test",
            "targets": {
                target: {
                    "region": "us-central1" if target == "gcp" else "us-east-1",
                    "source": "test",
                    "instances": instances,
                    "accelerators": {"nvidia-t4": {"on_demand": 0.5, "spot": 0.2}},
                    "fixed_monthly": [{"item": "cluster fee", "usd": 70.0}],
                }
            },
        }
    )


def test_every_default_instance_type_of_every_target_has_a_price() -> None:
    prices = load_price_table()
    for name in target_names():
        target_prices = prices.for_target(name)
        assert target_prices is not None, f"no prices for target {name}"
        for accelerator, instance_type in get_target(name).profile.instance_types.items():
            assert instance_type in target_prices.instances, (name, accelerator, instance_type)


def test_the_shipped_table_is_dated_and_sourced() -> None:
    prices = load_price_table()
    assert prices.as_of
    assert prices.currency == "USD"
    assert all(t.source for t in prices.targets.values())


def test_on_demand_replicas_cost_hourly_price_times_count_times_hours() -> None:
    estimate = estimate_cost(
        spec(scaling__min_replicas=1, scaling__max_replicas=3),
        table(**{"n2-standard-4": {"on_demand": 2.0}}),
    )
    (compute, fee) = estimate.lines
    assert (compute.count_min, compute.count_max) == (1, 3)
    assert (compute.monthly_min, compute.monthly_max) == (200.0, 600.0)
    assert (fee.monthly_min, fee.monthly_max) == (70.0, 70.0)
    assert (estimate.monthly_min, estimate.monthly_max) == (270.0, 670.0)
    assert "270.00 to 670.00 USD" in estimate.summary()


def test_spot_replicas_above_the_on_demand_base_cost_the_spot_price() -> None:
    estimate = estimate_cost(
        spec(
            compute__accelerator="nvidia-l4",
            compute__spot=True,
            compute__on_demand_base=1,
            scaling__min_replicas=2,
            scaling__max_replicas=5,
        ),
        table(**{"g2-standard-8": {"on_demand": 1.0, "spot": 0.25}}),
    )
    on_demand, spot, _ = estimate.lines
    assert on_demand.item == "g2-standard-8 on-demand"
    assert (on_demand.count_min, on_demand.count_max, on_demand.monthly_max) == (1, 1, 100.0)
    assert (spot.count_min, spot.count_max) == (1, 4)
    assert (spot.monthly_min, spot.monthly_max) == (25.0, 100.0)


def test_gpus_billed_apart_are_added_per_gpu() -> None:
    estimate = estimate_cost(
        spec(compute__accelerator="nvidia-t4", compute__gpu_count=2),
        table(**{"n1-standard-8": {"on_demand": 1.0, "gpus_included": False}}),
    )
    assert estimate.lines[0].hourly == pytest.approx(1.0 + 2 * 0.5)


def test_a_type_missing_from_the_table_is_named_not_counted_as_free() -> None:
    estimate = estimate_cost(spec(), table())
    assert estimate.unpriced == ("n2-standard-4 on-demand",)
    assert estimate.lines[0].monthly_max is None
    assert "not priced: n2-standard-4 on-demand" in estimate.summary()


def test_spot_without_a_spot_price_says_it_counts_on_demand() -> None:
    estimate = estimate_cost(
        spec(compute__spot=True, compute__on_demand_base=0),
        table(**{"n2-standard-4": {"on_demand": 1.0}}),
    )
    assert estimate.lines[0].hourly == 1.0
    assert any("no spot price for n2-standard-4" in n for n in estimate.notes)


def test_ab_variants_add_their_replicas() -> None:
    estimate = estimate_cost(
        spec(
            "aws",
            rollout__variants=[{"name": "b", "model_version": "1.1.0", "weight": 1, "replicas": 2}],
        ),
        table("aws", **{"ml.c6i.xlarge": {"on_demand": 1.0}}),
    )
    variant = next(line for line in estimate.lines if "variant b" in line.item)
    assert (variant.count_min, variant.count_max, variant.monthly_max) == (2, 2, 200.0)


def test_another_region_than_the_tables_is_noted() -> None:
    estimate = estimate_cost(
        spec(region="europe-west4"), table(**{"n2-standard-4": {"on_demand": 1.0}})
    )
    (note,) = estimate.notes[:1]
    assert "prices are those of us-central1" in note
    assert "europe-west4" in note


def test_a_table_with_a_negative_price_is_refused() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        table(**{"n2-standard-4": {"on_demand": -1.0}})


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferstack.components.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def test_cost_command_prints_the_estimate_as_json() -> None:
    result = run_cli("cost", "prod-aws", "--json")
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["target"] == "aws"
    assert printed["monthly_min"] > 0
    assert printed["monthly_max"] >= printed["monthly_min"]
    assert printed["unpriced"] == []


def test_cost_command_names_an_unknown_stack() -> None:
    result = run_cli("cost", "staging-mars")
    assert result.returncode == 2
    assert "no stack 'staging-mars'" in result.stderr
