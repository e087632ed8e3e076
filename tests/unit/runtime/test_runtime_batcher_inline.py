"""Quick model calls run on the event loop; slow ones, and calls of unseen sizes, on the thread."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import numpy as np
import pytest

from inferstack.runtime import batcher as batcher_module
from inferstack.runtime.batcher import Batcher


class Model:
    """Sums rows, records the thread of each call; sleeps ``delay`` s per call."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[tuple[int, int]] = []  # (rows, thread id)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.calls.append((len(x), threading.get_ident()))
        if self.delay:
            time.sleep(self.delay)
        return x.sum(axis=1)


def _serve(model: Model, requests: list[np.ndarray], max_batch_size: int = 4) -> list[Any]:
    async def scenario() -> tuple[list[Any], int]:
        batcher = Batcher(model, max_batch_size=max_batch_size, max_wait_s=0.0)
        batcher.start()
        out = [await batcher.submit(x) for x in requests]
        await batcher.close()
        return out, threading.get_ident()

    out, loop_thread = asyncio.run(scenario())
    model.calls = [(n, int(t == loop_thread)) for n, t in model.calls]  # 1: on the loop
    return out


def test_a_quick_model_runs_on_the_loop_once_a_call_of_that_size_was_quick() -> None:
    model = Model()
    x = np.arange(6, dtype=float).reshape(3, 2)
    out = _serve(model, [x[:2], x[:1], x[:2], x])
    assert model.calls == [(2, 0), (1, 1), (2, 1), (3, 0)], "unseen sizes go to the thread"
    for got, want in zip(out, [x[:2], x[:1], x[:2], x], strict=True):
        np.testing.assert_array_equal(got, want.sum(axis=1))


def test_a_slow_model_stays_on_the_thread() -> None:
    model = Model(delay=batcher_module.INLINE_S * 3)
    _serve(model, [np.ones((1, 2))] * 3)
    assert [on_loop for _, on_loop in model.calls] == [0, 0, 0]


def test_a_call_that_turns_slow_sends_every_call_back_to_the_thread_for_good() -> None:
    model = Model()
    batcher = Batcher(model, max_batch_size=4, max_wait_s=0.0)
    batcher._timed(4, 0.0)
    assert batcher.inline_rows == 4
    batcher._timed(8, batcher_module.INLINE_S * 2)  # a size never inlined: nothing changes
    assert batcher.inline_rows == 4
    batcher._timed(3, batcher_module.INLINE_S * 2)  # the loop would have run it: off
    assert batcher.inline_rows == 0
    batcher._timed(4, 0.0)  # quick calls after that do not bring it back
    assert batcher.inline_rows == 0


def test_text_batches_never_run_on_the_loop() -> None:
    model = Model()
    x = np.array([["a", "b"], ["c", "d"]], dtype=object)
    _serve(model, [x, x, x])
    assert [on_loop for _, on_loop in model.calls] == [0, 0, 0]


def test_a_large_request_runs_its_calls_on_the_loop_in_order() -> None:
    model = Model()
    x = np.arange(22, dtype=float).reshape(11, 2)
    out = _serve(model, [x[:4], x])
    assert model.calls == [(4, 0), (4, 1), (4, 1), (3, 1)]
    np.testing.assert_array_equal(out[1], x.sum(axis=1))


def test_a_small_request_does_not_wait_for_all_of_a_large_one_run_on_the_loop() -> None:
    model = Model(delay=batcher_module.INLINE_S * 0.6)  # quick, but two calls use a turn

    async def scenario() -> list[int]:
        batcher = Batcher(model, max_batch_size=4, max_wait_s=0.0)
        batcher.start()
        await batcher.submit(np.ones((4, 2)))  # learns that 4 rows are quick
        big = batcher.submit(np.ones((40, 2)))
        while len(model.calls) < 2:  # runs during a turn the large request gives the loop
            await asyncio.sleep(0)
        little = batcher.submit(np.full((1, 2), 3.0))
        assert (await little).tolist() == [6.0]
        await big
        await batcher.close()
        return [n for n, _ in model.calls]

    calls = asyncio.run(scenario())
    assert sum(calls) == 45
    assert calls.index(1) < len(calls) - 1, "the small request waited for the whole large one"


def _judged(monkeypatch: pytest.MonkeyPatch, after: list[tuple[float, int, int]]) -> Batcher:
    """A batcher that ran 4-row calls on the loop, then judged slow calls whose thread
    usage (CPU seconds, voluntary, involuntary switches) went from (0, 0, 0) to ``after``."""
    batcher = Batcher(Model(), max_batch_size=4, max_wait_s=0.0)
    batcher._timed(4, 0.0)
    for usage in after:
        monkeypatch.setattr(batcher_module, "_usage", lambda u=usage: u)
        batcher._judge(4, batcher_module.INLINE_S * 5, (0.0, 0, 0))
    return batcher


def test_a_slow_call_that_waited_turns_inlining_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _judged(monkeypatch, [(0.0, 1, 0)]).inline_rows == 0  # I/O, a lock, a sleep


def test_a_call_slow_only_because_it_was_preempted_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quick_cpu = batcher_module.INLINE_S / 10
    batcher = _judged(monkeypatch, [(quick_cpu, 0, 3)] * 5 + [(quick_cpu, 0, 0)] * 5)
    assert batcher.inline_rows == 4


def test_a_call_slow_by_its_cpu_time_turns_inlining_off(monkeypatch: pytest.MonkeyPatch) -> None:
    slow_cpu = batcher_module.INLINE_S * 2
    assert _judged(monkeypatch, [(slow_cpu, 0, 0)]).inline_rows == 0
    preempted = [(slow_cpu, 0, 1)]  # a preempted thread's CPU clock is believed the second time
    assert _judged(monkeypatch, preempted).inline_rows == 4
    assert _judged(monkeypatch, preempted * 2).inline_rows == 0


def test_calls_on_the_loop_are_judged_with_this_threads_usage() -> None:
    before = batcher_module._usage()
    time.sleep(0.002)
    cpu, waits, _ = batcher_module._usage()
    assert waits > before[1], "a sleep is a voluntary wait"
    assert cpu - before[0] < 0.002


def test_a_large_request_on_the_loop_is_observed_once_per_hand_off() -> None:
    """Every row and output reaches the observer once, in order, in one batch per turn."""
    model = Model()
    seen: list[tuple[np.ndarray, list[Any], list[Any]]] = []
    x = np.arange(22, dtype=float).reshape(11, 2)

    async def scenario() -> Any:
        batcher = Batcher(
            model,
            max_batch_size=4,
            max_wait_s=0.0,
            on_batch=lambda b, p, m: seen.append((b.copy(), p, m)),
        )
        batcher.start()
        await batcher.submit(x[:4])  # calls of 4 rows are now known to be quick
        seen.clear()
        out = await batcher.submit(x, lambda rows: len(rows))
        await batcher.close()
        return out, threading.get_ident()

    out, loop_thread = asyncio.run(scenario())
    np.testing.assert_array_equal(out, x.sum(axis=1))
    assert [(n, t == loop_thread) for n, t in model.calls[1:]] == [(4, True), (4, True), (3, True)]
    rows = np.concatenate([b for b, _, _ in seen])
    np.testing.assert_array_equal(rows, x)
    np.testing.assert_array_equal(np.concatenate([p[0] for _, p, _ in seen]), x.sum(axis=1))
    assert sum(m[0] for _, _, m in seen) == 11
    assert len(seen) < 3, "observed per call, not per hand-off"
