"""CloudWatch embedded metric format lines: their structure, and failures only logged."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from inferstack.runtime.drift_stats import Drift
from inferstack.runtime.emf import (
    DRIFT_METRIC,
    MAX_METRICS,
    NAMESPACE,
    DriftEmitter,
    drift_record,
    report_record,
)
from inferstack.runtime.monitoring import DriftReport


def test_drift_record_is_emf_with_max_and_per_feature_scores() -> None:
    record = drift_record(
        {"f0": 0.05, "f3": 1.7}, "churn-prod", "primary", {"model": "churn"}, timestamp_ms=1234
    )
    assert record["_aws"] == {
        "Timestamp": 1234,
        "CloudWatchMetrics": [
            {
                "Namespace": "inferstack",
                "Dimensions": [["EndpointName", "VariantName"]],
                "Metrics": [
                    {"Name": "DriftScore", "Unit": "None"},
                    {"Name": "DriftScore.f3", "Unit": "None"},
                    {"Name": "DriftScore.f0", "Unit": "None"},
                ],
            }
        ],
    }
    assert (record["EndpointName"], record["VariantName"]) == ("churn-prod", "primary")
    assert record["DriftScore"] == 1.7
    assert (record["DriftScore.f3"], record["DriftScore.f0"]) == (1.7, 0.05)
    assert record["model"] == "churn"
    assert (NAMESPACE, DRIFT_METRIC) == ("inferstack", "DriftScore")


def test_drift_record_keeps_to_emf_metric_limit() -> None:
    scores = {f"f{j}": j / 1000 for j in range(300)}
    record = drift_record(scores, "ep", "primary")
    metrics = record["_aws"]["CloudWatchMetrics"][0]["Metrics"]
    assert len(metrics) == MAX_METRICS
    assert record["DriftScore"] == 0.299
    assert "DriftScore.f299" in record
    assert "DriftScore.f0" not in record


def test_emit_prints_one_json_line_only_with_scores() -> None:
    out = io.StringIO()
    scores: dict[str, float] = {}
    emitter = DriftEmitter(lambda: scores, "ep", "primary", 60, stream=out)
    assert not emitter.emit()
    assert out.getvalue() == ""
    scores["f1"] = 0.3
    assert emitter.emit()
    (line,) = out.getvalue().splitlines()
    assert json.loads(line)["DriftScore"] == 0.3


def test_a_failing_emit_is_logged_and_the_loop_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    out = io.StringIO()
    calls = {"n": 0}

    def scores() -> dict[str, float]:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("scoring broke")
        return {"f0": 0.2}

    async def run() -> None:
        emitter = DriftEmitter(scores, "ep", "primary", 0.01, stream=out)
        emitter.start()
        for _ in range(200):
            await asyncio.sleep(0.01)
            if out.getvalue():
                break
        await emitter.stop()

    logger = logging.getLogger("inferstack.runtime")
    logger.addHandler(caplog.handler)
    try:
        asyncio.run(run())
    finally:
        logger.removeHandler(caplog.handler)
    assert "cloudwatch emf emit failed" in caplog.text
    assert json.loads(out.getvalue().splitlines()[0])["DriftScore"] == 0.2


def test_pvalues_and_prediction_drift_are_a_second_directive() -> None:
    report = DriftReport(
        {
            "f0": Drift(0.02, 500, "ks", 0.04, 0.6),
            "f3": Drift(1.7, 500, "ks", 0.8, 1e-30),
            "city": Drift(0.3, 500, "chi2", 40.0, 2e-9),
            "raw": Drift(0.01, 500),  # no test (no sample, or no scipy): PSI only
        },
        Drift(0.4, 500, "ks", 0.3, 1e-8),
    )
    record = report_record(report, "ep", "primary", {"model": "m"}, timestamp_ms=5)
    assert record is not None
    psi, tests = record["_aws"]["CloudWatchMetrics"]
    assert [m["Name"] for m in psi["Metrics"]] == [
        "DriftScore",
        "DriftScore.f3",
        "DriftScore.city",
        "DriftScore.f0",
        "DriftScore.raw",
    ]
    assert [m["Name"] for m in tests["Metrics"]] == [
        "PredictionDriftScore",
        "PredictionDriftPValue",
        "DriftPValue",
        "DriftPValue.f3",
        "DriftPValue.city",
        "DriftPValue.f0",
    ]
    assert tests["Namespace"] == NAMESPACE
    assert tests["Dimensions"] == [["EndpointName", "VariantName"]]
    assert record["DriftScore"] == 1.7  # unchanged by the tests
    assert record["DriftPValue"] == record["DriftPValue.f3"] == 1e-30
    assert (record["PredictionDriftScore"], record["PredictionDriftPValue"]) == (0.4, 1e-8)
    assert report_record(DriftReport(), "ep", "primary") is None


def test_prediction_drift_alone_and_the_metric_limit() -> None:
    record = report_record(DriftReport({}, Drift(0.2, 50)), "ep", "primary")
    assert record is not None
    (directive,) = record["_aws"]["CloudWatchMetrics"]
    assert [m["Name"] for m in directive["Metrics"]] == ["PredictionDriftScore"]
    pvalues = {f"f{j}": (j + 1) / 1000 for j in range(300)}
    big = drift_record({}, "ep", "v", pvalues=pvalues, prediction=(0.1, 0.5))
    (directive,) = big["_aws"]["CloudWatchMetrics"]
    assert len(directive["Metrics"]) == MAX_METRICS
    assert "DriftPValue.f0" in big
    assert "DriftPValue.f299" not in big
    with pytest.raises(ValueError, match="needs scores"):
        drift_record({}, "ep", "v")


def test_emitter_prints_a_drift_report() -> None:
    out = io.StringIO()
    report = DriftReport({"f1": Drift(0.3, 100, "ks", 0.2, 0.001)})
    assert DriftEmitter(DriftReport, "ep", "primary", 60, stream=out).emit() is False
    assert DriftEmitter(lambda: report, "ep", "primary", 60, stream=out).emit()
    (line,) = out.getvalue().splitlines()
    assert json.loads(line)["DriftPValue.f1"] == 0.001
