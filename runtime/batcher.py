"""Adaptive batching: requests that arrive together share one model call.

One asyncio task drains a queue. It runs a batch as soon as the model is free,
taking everything queued up to ``max_batch_size`` rows; while other requests are
still being received it waits up to ``max_wait_s`` for them. Under light load a
request therefore runs alone and at once; under heavy load batches grow by
themselves while the model is busy. The model runs in a single worker thread, off
the event loop. If a merged batch fails, each request is retried alone so that one
bad row fails only its own request.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from inferstack.runtime.batching import merge, split

log = logging.getLogger("inferstack.runtime")
Item = tuple[np.ndarray, "asyncio.Future[Any]", Any]


class Batcher:
    """Queue + worker task that turns concurrent submits into batched model calls."""

    def __init__(
        self,
        run: Callable[[np.ndarray], Any],
        max_batch_size: int,
        max_wait_s: float,
        on_batch: Callable[[np.ndarray, list[Any], list[Any]], None] | None = None,
        on_depth: Callable[[int], None] | None = None,
    ) -> None:
        self.run = run
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch
        self.on_depth = on_depth or (lambda _n: None)
        self.incoming = 0  # requests being received/decoded; maintained by the app
        self._queue: deque[Item] = deque()
        self._rows = 0
        self._wake: asyncio.Future[None] | None = None
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inferstack-model")

    def start(self) -> None:
        """Start the worker task on the running loop."""
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def close(self) -> None:
        """Finish everything queued, then stop."""
        self._closing = True
        self._notify()
        if self._task is not None:
            await self._task
        self._pool.shutdown(wait=True)

    @property
    def closed(self) -> bool:
        """True once ``close`` finished draining: nothing submitted now would run."""
        return self._closing and (self._task is None or self._task.done())

    def submit(self, x: np.ndarray, meta: Any = None) -> asyncio.Future[Any]:
        """Queue one request's rows; the future resolves to its slice of the outputs."""
        if self.closed:
            raise RuntimeError("the batcher is closed")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((x, fut, meta))
        self._rows += len(x)
        self.on_depth(self._rows)
        self._notify()
        return fut

    def _notify(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def _sleep(self, deadline: float | None) -> None:
        loop = asyncio.get_running_loop()
        self._wake = loop.create_future()
        timer = loop.call_at(deadline, self._notify) if deadline is not None else None
        try:
            await self._wake
        finally:
            if timer is not None:
                timer.cancel()
            self._wake = None

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                await self._sleep(None)
                continue
            if self.max_wait_s > 0 and not self._closing:
                deadline = loop.time() + self.max_wait_s
                while (
                    self._rows < self.max_batch_size
                    and self.incoming > 0
                    and loop.time() < deadline
                    and not self._closing  # close() drains at once
                ):
                    await self._sleep(deadline)
            try:
                items = self._take()
                if items:
                    await self._run_items(loop, items)
            except Exception:  # the worker must outlive any one batch
                log.exception("batcher iteration failed")

    def _take(self) -> list[Item]:
        items: list[Item] = []
        rows = 0
        while self._queue and (not items or rows + len(self._queue[0][0]) <= self.max_batch_size):
            item = self._queue.popleft()
            self._rows -= len(item[0])
            if not item[1].done():  # a timed-out request is skipped
                items.append(item)
                rows += len(item[0])
        self.on_depth(self._rows)
        return items

    async def _run_items(self, loop: asyncio.AbstractEventLoop, items: list[Item]) -> None:
        try:
            parts = await loop.run_in_executor(self._pool, self._run_batch, items)
        except Exception as err:  # noqa: BLE001 - retried one by one below
            if len(items) == 1:
                _resolve(items[0][1], error=err)
                return
            for item in items:
                if item[1].done():  # timed out while the merged batch ran
                    continue
                try:
                    part = await loop.run_in_executor(self._pool, self._run_batch, [item])
                except Exception as one_err:  # noqa: BLE001 - goes to its own request
                    _resolve(item[1], error=one_err)
                else:
                    _resolve(item[1], result=part[0])
            return
        for item, part in zip(items, parts, strict=True):
            _resolve(item[1], result=part)

    def _run_batch(self, items: list[Item]) -> list[Any]:
        x, counts = merge([item[0] for item in items])
        parts = split(self.run(x), counts)
        if self.on_batch is not None:
            try:
                self.on_batch(x, parts, [item[2] for item in items])
            except Exception:  # monitoring never breaks inference
                log.exception("batch observer failed")
        return parts


def _resolve(
    fut: asyncio.Future[Any], result: Any = None, error: BaseException | None = None
) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)
