"""``POST /feedback``: ground-truth outcomes joined to captured predictions (live quality).

Body: ``{"id": "...", "outcome": ...}`` or ``{"outcomes": [{"id", "outcome"}, ...]}`` (at
most ``MAX_OUTCOMES``). Each item is answered on its own: ``joined`` (its prediction was
captured here and waits for an outcome), ``late`` (captured here, but longer ago than
``INFERSTACK_FEEDBACK_TTL_S`` or evicted by ``INFERSTACK_FEEDBACK_MAX_PENDING``),
``unknown`` (never captured by this process: not sampled, or served by another replica)
or ``invalid`` (no string id, no outcome, an outcome of the wrong shape, a repeated id).
One bad item never fails the rest.

Live metrics are per process, over its own captured predictions: with several replicas
(or workers) each one joins the outcomes of the requests it captured and counts the
others as unknown. Every outcome that is not invalid also goes to the capture sink as a
``feedback`` record, so an offline report joins across replicas.

What "the prediction" is, by the manifest's ``output.kind``:

- ``label``: the returned label; the outcome is a label (compared as text: ``1``, ``1.0``,
  ``"1"`` and ``true`` match).
- ``probabilities``: the class of the highest probability (a name of ``output.names``,
  else the column index); the outcome is a class name or index; AUC uses the
  probabilities. One probability per row (an n or (n, 1) output, e.g. a sigmoid) is the
  positive class's (predicted at >= 0.5).
- ``value``, or a ``raw`` number: a regressor; the outcome is a number.
- other ``raw`` outputs: no quality metric can be defined, every outcome is invalid.

A request of several rows takes a list of outcomes, one per row.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

from inferstack.runtime.errors import InvalidInput
from inferstack.runtime.feedback_quality import QualityWindow
from inferstack.runtime.manifest import OutputSchema

__all__ = ["MAX_OUTCOMES", "RESULTS", "Feedback", "PendingPredictions", "parse_outcomes"]

MAX_OUTCOMES = 1000
"""Outcomes one request may carry; more is refused (send them in several requests)."""
RESULTS = ("joined", "late", "unknown", "invalid")
_JOINED = object()  # an id whose outcome was already recorded


class PendingPredictions:
    """Captured predictions waiting for their outcome: bounded, oldest first out, with a TTL."""

    def __init__(
        self, max_pending: int, ttl_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_pending = max_pending
        self.ttl_s = ttl_s
        self.clock = clock
        self._pending: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._gone: OrderedDict[str, object] = OrderedDict()  # expired or already joined
        self._lock = threading.Lock()

    def add(self, request_id: str, outputs: Any) -> None:
        """Remember a captured request's outputs (O(1); the oldest go past the bound)."""
        now = self.clock()
        with self._lock:
            self._pending[request_id] = (now, outputs)
            while len(self._pending) > self.max_pending:
                old, _ = self._pending.popitem(last=False)
                self._forget(old, None)

    def look(self, request_id: str) -> tuple[str, Any]:
        """``(result, outputs)``: joined with its outputs, else late, unknown or invalid.

        A joined id stays pending until ``settle``: an outcome of the wrong shape must
        not use up the prediction a correct one could still join.
        """
        now = self.clock()
        with self._lock:
            found = self._pending.get(request_id)
            if found is None:
                gone = self._gone.get(request_id, False)
                if gone is _JOINED:
                    return "invalid", "an outcome for this id was already recorded"
                return ("late" if gone is None else "unknown"), None
            if now - found[0] > self.ttl_s:
                del self._pending[request_id]
                self._forget(request_id, None)
                return "late", None
            return "joined", found[1]

    def settle(self, request_id: str) -> None:
        """Mark ``request_id``'s outcome recorded: a second one is invalid."""
        with self._lock:
            self._pending.pop(request_id, None)
            self._forget(request_id, _JOINED)

    def __len__(self) -> int:
        return len(self._pending)

    def _forget(self, request_id: str, why: object) -> None:
        self._gone[request_id] = why
        while len(self._gone) > self.max_pending:
            self._gone.popitem(last=False)


def parse_outcomes(obj: Any) -> list[Any]:
    """The body's items; a body of neither shape, or of too many, is ``InvalidInput``."""
    if isinstance(obj, dict) and "outcomes" in obj:
        items = obj["outcomes"]
        if not isinstance(items, list):
            raise InvalidInput('\'outcomes\' must be a list of {"id", "outcome"} objects')
        if len(items) > MAX_OUTCOMES:
            raise InvalidInput(
                f"{len(items)} outcomes in one request; at most {MAX_OUTCOMES}: "
                "send them in several requests"
            )
        return items
    if isinstance(obj, dict) and "id" in obj:
        return [obj]
    raise InvalidInput(
        'feedback body must be {"id": ..., "outcome": ...} or {"outcomes": [{"id": ..., '
        '"outcome": ...}, ...]}'
    )


class Feedback:
    """Joins outcomes to the predictions this process captured and keeps the quality window."""

    def __init__(
        self,
        output: OutputSchema,
        window: int,
        max_pending: int,
        ttl_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.output = output
        self.pending = PendingPredictions(max_pending, ttl_s, clock)
        self.classes = list(output.names) if output.names else None
        self.regression = output.kind == "value"
        self.quality: QualityWindow | None = None
        self._window = window
        if output.kind == "value":
            self.quality = QualityWindow(window, regression=True)
        elif output.kind == "label":
            self.quality = QualityWindow(window, regression=False, classes=self.classes)

    def remember(self, request_id: str, outputs: Any) -> None:
        """Keep a captured request's outputs for joining (called as its answer resolves)."""
        self.pending.add(request_id, outputs)

    def join(self, items: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Per-item results, and the feedback records for the capture sink."""
        results: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        ts = time.time()
        for item in items:
            result = self._one(item)
            results.append(result)
            if result["result"] != "invalid":
                records.append(
                    {"kind": "feedback", "id": item["id"], "outcome": item["outcome"], "ts": ts}
                )
        return results, records

    def _one(self, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            return _invalid(None, 'each outcome must be an object {"id", "outcome"}')
        request_id = item.get("id")
        if not isinstance(request_id, str) or not request_id or len(request_id) > 128:
            return _invalid(None, "'id' must be a request id (a string of 1 to 128 characters)")
        if "outcome" not in item or item["outcome"] is None:
            return _invalid(request_id, "'outcome' is missing")
        outcome = item["outcome"]
        try:
            truths = self._truths(outcome)
        except ValueError as err:
            return _invalid(request_id, str(err))
        result, outputs = self.pending.look(request_id)
        if result != "joined":
            answer = {"id": request_id, "result": result}
            if result == "invalid":
                answer["reason"] = outputs
            return answer
        try:
            pairs = self._pairs(truths, outputs)
        except ValueError as err:
            return _invalid(request_id, str(err))
        self.pending.settle(request_id)
        for pair in pairs:
            self._window_for(pair).add(*pair)
        return {"id": request_id, "result": "joined"}

    def _truths(self, outcome: Any) -> list[Any]:
        values = outcome if isinstance(outcome, list) else [outcome]
        if not values:
            raise ValueError("'outcome' is an empty list")
        kind = self.output.kind
        if kind == "value" or (kind == "raw" and all(_is_number(v) for v in values)):
            for v in values:
                if not _is_number(v) or not math.isfinite(float(v)):
                    raise ValueError("a regressor's outcome must be a finite number")
            return [float(v) for v in values]
        if any(isinstance(v, (dict, list)) for v in values):
            raise ValueError("a classifier's outcome must be a label or class index")
        return values

    def _pairs(self, truths: list[Any], outputs: Any) -> list[tuple[Any, Any, Any]]:
        out = np.asarray(outputs)
        rows = 1 if out.ndim == 0 else len(out)
        if len(truths) != rows:
            raise ValueError(
                f"the request had {rows} rows; send one outcome per row ({len(truths)} sent)"
            )
        kind = self.output.kind
        if kind == "probabilities" or (kind == "raw" and out.ndim == 2):
            if kind == "raw":
                raise ValueError("raw outputs of several values per row: no quality metric")
            return [self._probabilities(t, p) for t, p in zip(truths, out, strict=True)]
        flat = out.reshape(-1) if out.ndim else out.reshape(1)
        if kind == "value" or (kind == "raw" and np.issubdtype(flat.dtype, np.number)):
            return [(float(t), float(f), None) for t, f in zip(truths, flat, strict=True)]
        return [(_label(t), _label(f), None) for t, f in zip(truths, flat.tolist(), strict=True)]

    def _probabilities(self, truth: Any, row: np.ndarray) -> tuple[Any, Any, Any]:
        row = np.asarray(row, dtype=np.float64)
        if row.size == 1:  # one probability per row (n or (n, 1) outputs): the positive class's
            row = row.reshape(())
            classes = self.classes if self.classes and len(self.classes) == 2 else ["0", "1"]
            predicted = classes[1] if row >= 0.5 else classes[0]
            return (self._class_of(truth, classes), predicted, float(row))
        classes = self.classes or [str(j) for j in range(len(row))]
        if len(classes) != len(row):
            raise ValueError("the prediction's probabilities do not match output.names")
        return (self._class_of(truth, classes), classes[int(np.argmax(row))], row)

    def _class_of(self, truth: Any, classes: list[str]) -> str:
        label = _label(truth)
        if label in classes:
            return label
        if isinstance(truth, int) and not isinstance(truth, bool) and 0 <= truth < len(classes):
            return classes[truth]
        raise ValueError(f"outcome '{label[:50]}' is none of the classes {classes[:20]}")

    def _window_for(self, pair: tuple[Any, Any, Any]) -> QualityWindow:
        if self.quality is None and pair[2] is None:  # raw outputs: a number is a regressor
            regression = isinstance(pair[0], float) and isinstance(pair[1], float)
            self.quality = QualityWindow(self._window, regression=regression)
        if self.quality is None:  # probabilities: the classes are known from the first row
            scores = pair[2]
            if np.ndim(scores) == 0:
                classes = self.classes if self.classes and len(self.classes) == 2 else ["0", "1"]
            elif self.classes is not None and len(self.classes) == np.size(scores):
                classes = self.classes
            else:
                classes = [str(j) for j in range(np.size(scores))]
            self.quality = QualityWindow(self._window, regression=False, classes=classes)
        return self.quality

    def metrics(self) -> tuple[dict[str, float], int]:
        """The quality metrics and how many joined outcomes they are over."""
        if self.quality is None:
            return {}, 0
        return self.quality.compute(), len(self.quality)


def _invalid(request_id: str | None, reason: str) -> dict[str, Any]:
    return {"id": request_id, "result": "invalid", "reason": reason}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _label(value: Any) -> str:
    """A label as text: 1, 1.0, "1" and True are the same class."""
    if isinstance(value, (bool, np.bool_)):
        return "1" if value else "0"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)
