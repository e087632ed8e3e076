"""The batcher's monitoring hook: each batch feeds the drift window and the capture.

Drift statistics live in ``drift_monitor``, the capture in ``capture``; their names are
re-exported here for the modules and tests that import them from this one.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from inferstack.runtime.capture import Capture
from inferstack.runtime.drift_monitor import DriftMonitor, DriftReport, profile, psi

__all__ = ["Capture", "DriftMonitor", "DriftReport", "Observer", "profile", "psi"]


class Observer:
    """The batcher's ``on_batch`` hook: feeds drift and capture."""

    def __init__(self, drift: DriftMonitor | None, capture: Capture | None) -> None:
        self.drift = drift
        self.capture = capture

    def __call__(self, x: np.ndarray, parts: list[Any], metas: list[Any]) -> None:
        if self.drift is not None:
            self.drift.update(x, _joined(parts) if self.drift.prediction is not None else None)
        if self.capture is not None:
            now = time.time()
            records = [
                {
                    "kind": "prediction",
                    "ts": now,
                    "model": self.capture.model,
                    "version": self.capture.version,
                    "id": meta["id"],
                    "route": meta["route"],
                    "inputs": _plain(meta["x"]),
                    "outputs": _plain(part),
                    **({"anomalies": meta["anomalies"]} if "anomalies" in meta else {}),
                }
                for meta, part in zip(metas, parts, strict=True)
                if meta is not None
            ]
            if records:
                self.capture.put(records)  # O(1): a writer thread stores them


def _plain(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else value


def _joined(parts: list[Any]) -> Any:
    if len(parts) == 1 and isinstance(parts[0], np.ndarray) and parts[0].ndim:
        return parts[0]  # one request's outputs: the drift window copies them itself
    try:
        return np.concatenate([np.asarray(p) for p in parts])
    except ValueError:  # ragged or scalar outputs: no prediction drift for this batch
        return None
