"""CloudWatch embedded metric format lines: their structure, and failures only logged."""

from __future__ import annotations

import asyncio
import io
import json
import logging

import pytest

from inferstack.runtime.emf import DRIFT_METRIC, MAX_METRICS, NAMESPACE, DriftEmitter, drift_record


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
