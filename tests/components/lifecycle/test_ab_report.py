"""The A/B readout from CloudWatch (moto), from Prometheus text served on 127.0.0.1 by the
runtime's own metrics code, and from an outcomes CSV."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import numpy as np
import pytest

from inferstack.components.lifecycle import abstats
from inferstack.components.lifecycle.abreport import (
    cloudwatch_variants,
    compare,
    fetch_metrics,
    prometheus_variants,
    read_outcomes,
)
from inferstack.components.lifecycle.seam import LifecycleError
from tests.components.lifecycle.conftest import REGION, Endpoint


def _put(
    endpoint: Endpoint, variant: str, minutes: int, rps: int, err: float, lat_ms: float
) -> None:
    rng = np.random.default_rng(len(variant))
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    dims = [
        {"Name": "EndpointName", "Value": endpoint.name},
        {"Name": "VariantName", "Value": variant},
    ]
    for minute in range(1, minutes + 1):
        at = now - timedelta(minutes=minute)
        invocations = rps * 60
        data = [
            ("Invocations", invocations),
            ("Invocation5XXErrors", int(rng.binomial(invocations, err))),
            ("ModelLatency", float(rng.normal(lat_ms, lat_ms / 10)) * 1000),  # microseconds
        ]
        endpoint.cloudwatch.put_metric_data(
            Namespace="AWS/SageMaker",
            MetricData=[
                {"MetricName": name, "Dimensions": dims, "Timestamp": at, "Value": value}
                for name, value in data
            ],
        )


def test_cloudwatch_readout_of_sagemaker_variants(endpoint: Endpoint) -> None:
    _put(endpoint, "primary", 60, 10, 0.010, 40.0)
    _put(endpoint, "candidate", 60, 2, 0.020, 30.0)
    end = datetime.now(UTC)
    variants = cloudwatch_variants(
        boto3.client("cloudwatch", region_name=REGION),
        endpoint.name,
        {"primary": "1.0.0", "candidate": "1.1.0"},
        end - timedelta(hours=2),
        end,
    )
    primary, candidate = variants
    assert (primary.requests, candidate.requests) == (36_000, 7_200)
    assert len(primary.latency_ms) == 60
    assert primary.latency_mean == pytest.approx(40.0, rel=0.05)
    report = compare("prod-aws", "cloudwatch", variants)
    assert report.baseline == "primary"
    by_metric = {r.metric: r.comparison for r in report.rows}
    expected = abstats.two_proportions(
        primary.errors, primary.requests, candidate.errors, candidate.requests
    )
    assert by_metric["error rate"] == expected
    assert by_metric["error rate"].significant
    latency = by_metric["latency ms"]
    assert latency.test == "Welch's t"
    assert latency.difference == pytest.approx(-10.0, abs=1.5)
    assert latency.significant
    assert report.as_json()["variants"][1]["version"] == "1.1.0"


def test_prometheus_readout_from_runtime_metrics(metrics_server: str) -> None:
    texts = [fetch_metrics(f"{metrics_server}/{v}/metrics") for v in ("1.0.0", "1.1.0")]
    variants = prometheus_variants(texts)
    old, new = variants
    assert (old.variant, old.requests, new.requests) == ("1.0.0", 4000, 1000)
    assert old.latency_summary is not None
    assert old.latency_summary[2] == 4000
    assert old.latency_summary[0] == pytest.approx(10.0, rel=0.05)  # exact mean from _sum
    report = compare("local", "prometheus", variants)
    rows = {r.metric: r.comparison for r in report.rows}
    assert rows["error rate"].test == "two-proportion z"
    assert rows["error rate"].n_a == 4000
    assert rows["latency ms"].test == "Welch's t"
    assert rows["latency ms"].difference == pytest.approx(2.0, abs=0.6)
    assert rows["latency ms"].significant


def test_fetch_metrics_names_the_url(metrics_server: str) -> None:
    with pytest.raises(LifecycleError, match=r"cannot read metrics from .*/nope"):
        fetch_metrics(f"{metrics_server}/nope")
    with pytest.raises(LifecycleError, match="expected an http"):
        fetch_metrics("file:///etc/passwd")


def _variants() -> list:
    from inferstack.components.lifecycle.abreport import VariantData

    return [VariantData("primary", "1.0.0", 5000, 50), VariantData("candidate", "1.1.0", 5000, 45)]


def test_outcomes_csv_rate_and_not_enough_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    lines = ["request_id,variant,outcome"]
    for i in range(400):
        variant = "primary" if i % 2 else "1.1.0"  # a variant's name or its version
        lines.append(f"r{i},{variant},{int(rng.random() < (0.2 if i % 2 else 0.3))}")
    path = tmp_path / "outcomes.csv"
    path.write_text("\n".join(lines) + "\n")
    variants = _variants()
    assert read_outcomes(path, variants) == "rate"
    report = compare("prod-aws", "cloudwatch", variants, outcome_kind="rate")
    outcome = next(r.comparison for r in report.rows if r.metric == "outcome rate")
    assert outcome.n_a == outcome.n_b == 200
    assert outcome.test == "two-proportion z"
    # few latency observations: the readout says so instead of testing
    short = compare("prod-aws", "cloudwatch", [*_variants()])
    assert short.rows[0].comparison.enough_data

    path.write_text("request_id,variant,outcome\nr1,primary,1\nr2,candidate,0\n")
    few = _variants()
    read_outcomes(path, few)
    report = compare("prod-aws", "cloudwatch", few, outcome_kind="rate")
    outcome = next(r.comparison for r in report.rows if r.metric == "outcome rate")
    assert not outcome.enough_data
    assert not report.enough_data
    assert "not enough data yet" in outcome.note


def test_outcomes_csv_continuous_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    rows = [f"r{i},{'primary' if i % 2 else 'candidate'},{i % 7 + 0.5}" for i in range(100)]
    path.write_text("request_id,variant,outcome\n" + "\n".join(rows) + "\n")
    assert read_outcomes(path, _variants()) == "continuous"
    path.write_text("request_id,variant,outcome\nr1,primary,1\nr2,blue,0\n")
    with pytest.raises(LifecycleError, match=r"o\.csv:3: variant 'blue' is not one of"):
        read_outcomes(path, _variants())
    path.write_text("id,variant,outcome\n")
    with pytest.raises(LifecycleError, match="missing column"):
        read_outcomes(path, _variants())
    path.write_text("request_id,variant,outcome\nr1,primary,0.5\nr2,primary,high\n")
    with pytest.raises(LifecycleError, match=r"o\.csv:3: outcome 'high' is not a number"):
        read_outcomes(path, _variants())


def test_compare_needs_two_variants_and_a_known_baseline() -> None:
    with pytest.raises(LifecycleError, match="needs two variants"):
        compare("s", "x", _variants()[:1])
    with pytest.raises(LifecycleError, match="--baseline 'green'"):
        compare("s", "x", _variants(), baseline="green")
