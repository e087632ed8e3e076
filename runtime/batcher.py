"""Adaptive batching: requests that arrive together share one model call.

One asyncio task drains a queue. It runs a batch as soon as the model is free,
taking everything queued up to ``max_batch_size`` rows; while other requests are
still being received it waits up to ``max_wait_s`` for them. Under light load a
request therefore runs alone and at once; under heavy load batches grow by
themselves while the model is busy. The model runs in a single worker thread, off
the event loop. If a merged batch fails, each request is retried alone so that one
bad row fails only its own request.

A request of more rows than ``max_batch_size`` runs as consecutive model calls of at
most that many rows, all in one hand-off to the model thread while no smaller request
is queued: each hand-off (thread wake-up, result back to the loop) costs more than a
fast model's call. Between two calls the thread looks at the queue; once a request
that fits in a batch waits, the rest of the large one goes to the back of the queue,
so small requests wait at most one model call behind a large one.

A call that is known to be quick runs on the event loop itself, without the hand-off:
on one core the thread's wake-up and the result's way back cost more than a fast
model's call (a 256-row logistic regression takes tens of microseconds). A call of
``n`` rows is known to be quick once a call of at least ``n`` rows took under
``INLINE_S``; a call that took longer sends calls of its size and more back to the
thread, and the first call of a size never seen is always handed off. A call on the
loop that never waited of its own accord (``getrusage``) is judged by its own CPU time,
not by the wall clock: on a shared machine other processes' turns on the core would
otherwise send every call to the thread for good. A large request run this way gives
the loop a turn (to queue what arrived) at least every ``INLINE_S``, and stops for
small requests as on the thread.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from inferstack.runtime.batching import join, merge, split

log = logging.getLogger("inferstack.runtime")
Meta = Callable[[np.ndarray], Any]
INLINE_S = 0.001
"""Model calls observed to take less than this run on the event loop, not the thread."""


class _Item:
    """One queued request: its rows, its future, how far its model calls got."""

    __slots__ = ("done", "fut", "meta", "parts", "x")

    def __init__(self, x: np.ndarray, fut: asyncio.Future[Any], meta: Meta | None) -> None:
        self.x = x
        self.fut = fut
        self.meta = meta
        self.done = 0  # rows already run (a large request's finished model calls)
        self.parts: list[Any] = []

    @property
    def rows(self) -> int:
        return len(self.x) - self.done


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
        self._queue: deque[_Item] = deque()
        self._rows = 0
        self._small = 0  # queued requests that fit in one batch (read by the model thread)
        self._wake: asyncio.Future[None] | None = None
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inferstack-model")
        self.inline_rows = 0  # calls of at most this many rows run on the loop (see INLINE_S)
        self._inline_off = False  # set for good once a call the loop would have run was slow
        self._preempted = False  # the last call was preempted and slow by CPU time

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

    def submit(self, x: np.ndarray, meta: Meta | None = None) -> asyncio.Future[Any]:
        """Queue one request's rows; the future resolves to its outputs.

        ``meta``, if given, makes the ``on_batch`` observer's value for the rows of
        each model call this request takes part in.
        """
        if self.closed:
            raise RuntimeError("the batcher is closed")
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._enqueue(_Item(x, fut, meta))
        self._notify()
        return fut

    def _enqueue(self, item: _Item) -> None:
        self._queue.append(item)
        self._rows += item.rows
        if item.rows <= self.max_batch_size:
            self._small += 1
        self.on_depth(self._rows)

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

    def _take(self) -> list[_Item]:
        """Queued requests for the next hand-off: small ones merged up to the batch size,
        or one larger than the batch size alone."""
        items: list[_Item] = []
        rows = 0
        limit = self.max_batch_size
        while self._queue:
            n = self._queue[0].rows
            if items and (rows + n > limit or n > limit):
                break
            item = self._queue.popleft()
            self._rows -= n
            if n <= limit:
                self._small -= 1
            if item.fut.done():  # a timed-out request is skipped
                continue
            items.append(item)
            rows += n
            if n > limit:
                break
        self.on_depth(self._rows)
        return items

    async def _run_items(self, loop: asyncio.AbstractEventLoop, items: list[_Item]) -> None:
        if len(items) == 1 and items[0].rows > self.max_batch_size:
            await self._run_large(loop, items[0])
            return
        try:
            parts = await self._call(loop, items)
        except Exception as err:  # noqa: BLE001 - retried one by one below
            if len(items) == 1:
                _resolve(items[0].fut, error=err)
                return
            for item in items:
                if item.fut.done():  # timed out while the merged batch ran
                    continue
                try:
                    part = await self._call(loop, [item])
                except Exception as one_err:  # noqa: BLE001 - goes to its own request
                    _resolve(item.fut, error=one_err)
                else:
                    _resolve(item.fut, result=_whole(item, part[0]))
            return
        for item, part in zip(items, parts, strict=True):
            _resolve(item.fut, result=_whole(item, part))

    async def _call(self, loop: asyncio.AbstractEventLoop, items: list[_Item]) -> list[Any]:
        """One model call over ``items``: on the loop when known to be quick, else handed off."""
        if sum(item.rows for item in items) <= self.inline_rows and _plain(items[0].x):
            return self._run_batch(items, inline=True)
        return await loop.run_in_executor(self._pool, self._run_batch, items)

    async def _run_large(self, loop: asyncio.AbstractEventLoop, item: _Item) -> None:
        try:
            if min(item.rows, self.max_batch_size) <= self.inline_rows and _plain(item.x):
                finished = await self._run_chunks_inline(item)
            else:
                finished = await loop.run_in_executor(self._pool, self._run_chunks, item)
        except Exception as err:  # noqa: BLE001 - a failed call fails the whole request
            _resolve(item.fut, error=err)
            return
        if finished:
            _resolve(item.fut, result=join(item.parts))
        elif not item.fut.done():  # smaller requests wait: the rest goes behind them
            self._enqueue(item)

    def _run_chunks(self, item: _Item) -> bool:
        """Model calls of at most the batch size over ``item``'s remaining rows, until
        its last row ran (True) or a request that fits in one batch waits (False)."""
        size = self.max_batch_size
        done, parts = item.done, len(item.parts)
        try:
            while True:
                rows = item.x[item.done : item.done + size]
                part = self._run_batch([_Item(rows, item.fut, item.meta)], observe=False)[0]
                item.parts.append(part)
                item.done += len(rows)
                if item.done >= len(item.x):
                    return True
                # Let the event loop take the GIL, if it waits for it, to queue what
                # arrived: without this, calls back to back hold it for whole switch
                # intervals.
                time.sleep(0)
                if self._small > 0 or item.fut.done():
                    return False
        finally:
            self._observe_chunks(item, done, parts)

    async def _run_chunks_inline(self, item: _Item) -> bool:
        """``_run_chunks`` on the event loop, giving the loop a turn every ``INLINE_S``;
        hands the rest to the thread if a call turns out slow."""
        size = self.max_batch_size
        turn = time.perf_counter() + INLINE_S
        done, parts = item.done, len(item.parts)
        while True:
            rows = item.x[item.done : item.done + size]
            if len(rows) > self.inline_rows:  # slow calls seen meanwhile: back to the thread
                self._observe_chunks(item, done, parts)
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._pool, self._run_chunks, item)
            try:
                one = _Item(rows, item.fut, item.meta)
                part = self._run_batch([one], inline=True, observe=False)[0]
            except BaseException:
                self._observe_chunks(item, done, parts)
                raise
            item.parts.append(part)
            item.done += len(rows)
            if item.done >= len(item.x):
                self._observe_chunks(item, done, parts)
                return True
            if time.perf_counter() >= turn:
                self._observe_chunks(item, done, parts)
                await asyncio.sleep(0)  # let the loop read and queue what arrived
                turn = time.perf_counter() + INLINE_S
                done, parts = item.done, len(item.parts)
            if self._small > 0 or item.fut.done():
                self._observe_chunks(item, done, parts)
                return False

    def _run_batch(
        self, items: list[_Item], inline: bool = False, observe: bool = True
    ) -> list[Any]:
        x, counts = merge([item.x[item.done :] if item.done else item.x for item in items])
        usage = _usage() if inline and _THREAD is not None else None
        start = time.perf_counter()
        try:
            parts = split(self.run(x), counts)
            if observe:
                self._observe(x, items, counts, parts)
        finally:  # the observer runs where the call runs, so it counts too
            seconds = time.perf_counter() - start
            if usage is None or seconds < INLINE_S:
                self._timed(len(x), seconds)
            else:
                self._judge(len(x), seconds, usage)
        return parts

    def _observe(
        self, x: np.ndarray, items: list[_Item], counts: list[int], parts: list[Any]
    ) -> None:
        if self.on_batch is None:
            return
        try:
            first = 0
            metas = []
            for item, n in zip(items, counts, strict=True):
                rows = x[first : first + n]
                metas.append(None if item.meta is None else item.meta(rows))
                first += n
            self.on_batch(x, parts, metas)
        except Exception:  # monitoring never breaks inference
            log.exception("batch observer failed")

    def _observe_chunks(self, item: _Item, done: int, parts: int) -> None:
        """Observe the rows a large request's back-to-back calls ran since ``done`` (its
        parts from index ``parts``) as one batch: the observer's fixed cost (the drift
        window, a captured record) once per hand-off, not once per call."""
        if item.done > done:
            rows = item.x[done : item.done]
            self._observe(
                rows, [_Item(rows, item.fut, item.meta)], [len(rows)], [join(item.parts[parts:])]
            )

    def _judge(self, rows: int, seconds: float, before: tuple[float, int, int]) -> None:
        """A call on the loop that took ``INLINE_S`` or more: slow if it waited (I/O, a
        lock, a sleep: the loop would wait as long), else only if its own CPU time was
        that long too; the time beyond it went to other processes or the hypervisor.
        A preempted thread's CPU clock can count time it did not run, so a preempted
        call slow by CPU time alone is believed the second time in a row."""
        cpu, waits, preemptions = _usage()
        if waits > before[1]:
            self._timed(rows, seconds)
        elif cpu - before[0] < INLINE_S:
            return
        elif preemptions > before[2] and not self._preempted:
            self._preempted = True
        else:
            self._timed(rows, seconds)

    def _timed(self, rows: int, seconds: float) -> None:
        """Learn which calls are quick enough for the loop from one call's duration.

        A slow call of a size the loop would have run turns inlining off for good: the
        model's cost then depends on more than the row count (content, a remote call,
        pauses), and a second stall of every connection is not worth the hand-off saved.
        """
        self._preempted = False
        if seconds < INLINE_S:
            if rows > self.inline_rows and not self._inline_off:
                self.inline_rows = rows
        elif rows <= self.inline_rows:
            self.inline_rows = 0
            self._inline_off = True


_THREAD: int | None = getattr(resource, "RUSAGE_THREAD", None)  # Linux; else wall time alone


def _usage() -> tuple[float, int, int]:
    """This thread's CPU seconds (``getrusage``'s own are too coarse) and its context
    switches so far: voluntary (it waited) and involuntary (it was preempted)."""
    usage = resource.getrusage(_THREAD or 0)
    return time.thread_time(), usage.ru_nvcsw, usage.ru_nivcsw


def _plain(x: np.ndarray) -> bool:
    """Whether a batch may run on the loop: not object cells (text, whose cost is the
    content's, not the row count's)."""
    return not x.dtype.hasobject


def _whole(item: _Item, last: Any) -> Any:
    """A request's outputs: ``last`` joined after those of its earlier model calls."""
    return join([*item.parts, last]) if item.parts else last


def _resolve(
    fut: asyncio.Future[Any], result: Any = None, error: BaseException | None = None
) -> None:
    if fut.done():
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)
