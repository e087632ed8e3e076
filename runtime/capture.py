"""Sampled data capture: records queued on the request path, written by a background thread.

The model thread only appends to a bounded in-memory queue (``CaptureQueue.put``: a lock,
a length check, an append); a writer thread takes batches of it, by count
(``INFERSTACK_CAPTURE_FLUSH_RECORDS``) or time (``INFERSTACK_CAPTURE_FLUSH_INTERVAL_S``),
and hands them to a sink (``capture_sinks``). A full queue drops the new records and
counts them (``reason="queue_full"``); a batch the sink still refuses after its bounded
retries is dropped and counted (``reason="sink_error"``). Neither ever reaches a request.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inferstack.runtime.capture_sinks import FileSink, Sink

__all__ = ["Capture", "CaptureQueue"]

log = logging.getLogger("inferstack.runtime")

Count = Callable[[str, int], None]
"""``(label, records)``: the written counter takes the sink, the dropped one the reason."""
RETRY_DELAYS_S = (0.2, 1.0, 3.0)
"""Pauses between attempts at one batch: four attempts within about 4 s, then it drops."""


class CaptureQueue:
    """A bounded queue of records and the thread that writes them to one sink."""

    def __init__(
        self,
        sink: Sink,
        *,
        max_records: int,
        flush_records: int,
        flush_interval_s: float,
        on_written: Callable[[int], None] | None = None,
        on_dropped: Count | None = None,
        retry_delays_s: tuple[float, ...] = RETRY_DELAYS_S,
    ) -> None:
        self.sink = sink
        self.max_records = max_records
        self.flush_records = min(flush_records, max_records)
        self.flush_interval_s = flush_interval_s
        self.retry_delays_s = retry_delays_s
        self._on_written = on_written
        self._on_dropped = on_dropped
        self._items: deque[dict[str, Any]] = deque()
        self._wake = threading.Condition(threading.Lock())
        self._closing = False
        self._deadline: float | None = None  # drain: give up retrying past this
        self._logged: set[str] = set()
        self.written = 0
        self.dropped = 0
        self._thread = threading.Thread(
            target=self._run, name=f"inferstack-capture-{sink.name}", daemon=True
        )
        self._thread.start()

    def put(self, records: list[dict[str, Any]]) -> None:
        """Queue records; never waits: those that do not fit are dropped and counted."""
        with self._wake:
            room = self.max_records - len(self._items)
            lost = 0
            if room < len(records) or self._closing:
                lost = len(records) if self._closing else len(records) - max(room, 0)
                records = records[: len(records) - lost]
            self._items.extend(records)
            if len(self._items) >= self.flush_records:
                self._wake.notify()
        if lost:
            self._drop("queue_full", lost)

    def __len__(self) -> int:
        return len(self._items)

    def close(self, timeout_s: float) -> None:
        """Flush what is queued within ``timeout_s`` seconds (the drain), then stop."""
        with self._wake:
            self._closing = True
            self._deadline = time.monotonic() + timeout_s
            self._wake.notify()
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning(
                "capture drain ended before the sink took every record",
                extra={"sink": self.sink.name, "queued": len(self._items)},
            )

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._closing and len(self._items) < self.flush_records:
                    self._wake.wait(self.flush_interval_s)
                batch = [
                    self._items.popleft() for _ in range(min(len(self._items), self.flush_records))
                ]
                closing = self._closing
            if batch:
                self._write(batch)
            if closing and not self._items:
                return
            if closing and self._deadline is not None and time.monotonic() > self._deadline:
                self._drop("sink_error", len(self._items))
                return

    def _write(self, batch: list[dict[str, Any]]) -> None:
        for attempt in range(len(self.retry_delays_s) + 1):
            try:
                self.sink.write(batch)
            except Exception as err:  # noqa: BLE001 - any sink failure: retry, then drop
                self._log_once(err)
                if attempt == len(self.retry_delays_s) or not self._pause(attempt):
                    self._drop("sink_error", len(batch))
                    return
            else:
                self.written += len(batch)
                if self._on_written is not None:
                    self._on_written(len(batch))
                return

    def _pause(self, attempt: int) -> bool:
        """Sleep before the next attempt; False when the drain's deadline is too near."""
        delay = self.retry_delays_s[attempt]
        if self._deadline is not None and time.monotonic() + delay > self._deadline:
            return False
        time.sleep(delay)
        return True

    def _drop(self, reason: str, count: int) -> None:
        if count <= 0:
            return
        self.dropped += count
        if self._on_dropped is not None:
            self._on_dropped(reason, count)

    def _log_once(self, err: Exception) -> None:
        kind = type(err).__name__
        if kind in self._logged:
            return
        self._logged.add(kind)
        log.error(
            "capture sink failed; its records are retried, then dropped and counted "
            "(further errors of this kind are not logged)",
            extra={"sink": self.sink.name, "error": f"{kind}: {str(err)[:300]}"},
        )


class Capture:
    """Samples requests and queues their records (and feedback) for the capture sinks.

    ``directory`` keeps the historical local files; ``queues`` are the sinks' queues
    (a folder's, an object store's, or both). ``write`` appends to a local file at once:
    it is for the explanation audit trail, which runs in its own threads.
    """

    def __init__(
        self,
        directory: str | Path | None,
        sample_rate: float,
        model: str,
        version: str,
        queues: list[CaptureQueue] | None = None,
    ) -> None:
        self.directory = Path(directory) if directory is not None else None
        self.sample_rate = sample_rate
        self.model = model
        self.version = version
        self.queues = queues if queues is not None else []
        self._file = FileSink(self.directory, model, version) if self.directory else None

    def sample(self) -> bool:
        """Whether to capture the next request."""
        return self.sample_rate > 0 and random.random() < self.sample_rate  # noqa: S311

    @property
    def path(self) -> Path:
        """Today's file of captured predictions for this process (local folder only)."""
        if self._file is None:
            raise ValueError("this capture writes to no local folder")
        return self._file.path("prediction")

    @property
    def explanations_path(self) -> Path:
        """Today's audit trail of explanations for this process, beside the captures."""
        if self._file is None:
            raise ValueError("this capture writes to no local folder")
        return self._file.path("explanation")

    def put(self, records: list[dict[str, Any]]) -> None:
        """Queue records (each with its ``kind``) for every sink; never blocks."""
        for queue in self.queues:
            queue.put(records)

    def write(self, records: list[dict[str, Any]], path: Path | None = None) -> None:
        """Append records to ``path`` (else today's predictions file) right away."""
        if self._file is None:
            self.put([{"kind": "explanation", **r} for r in records])
            return
        self._file.append(path or self.path, records)

    def close(self, timeout_s: float) -> None:
        """Flush every queue within ``timeout_s`` seconds in all."""
        deadline = time.monotonic() + timeout_s
        for queue in self.queues:
            queue.close(max(0.0, deadline - time.monotonic()))
