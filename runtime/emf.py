"""Drift scores as CloudWatch embedded metric format (EMF) lines on stdout.

SageMaker ships a container's stdout to CloudWatch Logs, and CloudWatch turns an
EMF line (a JSON object with an ``_aws`` block) into metrics. With
``INFERSTACK_CLOUDWATCH_EMF=true`` the runtime prints one line per model at most
every ``INFERSTACK_CLOUDWATCH_EMF_INTERVAL_S`` seconds: ``DriftScore`` (the highest
feature's PSI) and ``DriftScore.<feature>`` per feature, in namespace ``inferstack``
with dimensions ``EndpointName`` and ``VariantName``. The loop runs as a background
task, scores in a worker thread, and only logs its failures.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import orjson

log = logging.getLogger("inferstack.runtime")

NAMESPACE = "inferstack"
"""CloudWatch namespace of the runtime's metrics (the AWS alarms watch it)."""
DRIFT_METRIC = "DriftScore"
"""The highest per-feature drift score of a model."""
MAX_METRICS = 100
"""EMF's limit on metrics per directive: DriftScore plus the 99 highest features."""
_MAX_NAME = 255  # CloudWatch's longest metric name


def drift_record(
    scores: dict[str, float],
    endpoint: str,
    variant: str,
    properties: dict[str, Any] | None = None,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """One EMF object for `scores` (feature -> PSI, not empty) on endpoint/variant."""
    top = sorted(scores.items(), key=lambda item: item[1], reverse=True)[: MAX_METRICS - 1]
    values = {DRIFT_METRIC: top[0][1]}
    values |= {f"{DRIFT_METRIC}.{feature}"[:_MAX_NAME]: score for feature, score in top}
    return {
        "_aws": {
            "Timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [["EndpointName", "VariantName"]],
                    "Metrics": [{"Name": name, "Unit": "None"} for name in values],
                }
            ],
        },
        **(properties or {}),
        "EndpointName": endpoint,
        "VariantName": variant,
        **values,
    }


class DriftEmitter:
    """Prints `scores()` as an EMF line every `interval_s` while it has drift data."""

    def __init__(
        self,
        scores: Callable[[], dict[str, float]],
        endpoint: str,
        variant: str,
        interval_s: float,
        properties: dict[str, Any] | None = None,
        stream: TextIO | None = None,
    ) -> None:
        self.scores = scores
        self.endpoint = endpoint
        self.variant = variant
        self.interval_s = interval_s
        self.properties = properties or {}
        self.stream = stream
        self._task: asyncio.Task[None] | None = None

    def emit(self) -> bool:
        """Print one line now if there are scores; whether one was printed."""
        scores = self.scores()
        if not scores:
            return False
        record = drift_record(scores, self.endpoint, self.variant, self.properties)
        stream = self.stream or sys.stdout
        stream.write(orjson.dumps(record).decode() + "\n")
        stream.flush()
        return True

    def start(self) -> None:
        """Run the loop on the current event loop."""
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Cancel the loop."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await loop.run_in_executor(None, self.emit)
            except Exception:  # monitoring never breaks inference
                log.exception("cloudwatch emf emit failed")
