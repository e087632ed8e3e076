"""The batcher and requests larger than the batch size: back-to-back calls, small ones first."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import numpy as np
import pytest

from inferstack.runtime import InvalidInput
from inferstack.runtime.batcher import Batcher


class Model:
    """Sums rows; records each call's size; can hold its first call until told to go."""

    def __init__(self, hold_first: bool = False) -> None:
        self.calls: list[int] = []
        self.threads: set[int] = set()
        self.started = threading.Event()
        self.go = threading.Event()
        if not hold_first:
            self.go.set()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(len(x))
        self.threads.add(threading.get_ident())
        self.started.set()
        assert self.go.wait(5)
        if (x[:, 0] < 0).any():
            raise InvalidInput("negative")
        return x.sum(axis=1)


async def _until(event: threading.Event) -> None:
    for _ in range(5000):
        if event.is_set():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the model was never called")


def test_a_large_request_alone_runs_batch_sized_calls_in_one_hand_off() -> None:
    model = Model()
    seen: list[tuple[int, list[Any]]] = []
    x = np.arange(10 * 2, dtype=float).reshape(10, 2)

    async def scenario() -> Any:
        batcher = Batcher(
            model,
            max_batch_size=4,
            max_wait_s=0.0,
            on_batch=lambda b, _p, m: seen.append((len(b), m)),
        )
        batcher.start()
        hand_offs = 0
        real = batcher._run_chunks

        def counted(item: Any) -> bool:
            nonlocal hand_offs
            hand_offs += 1
            return real(item)

        batcher._run_chunks = counted  # type: ignore[method-assign]
        out = await batcher.submit(x, lambda rows: rows[:, 0].tolist())
        await batcher.close()
        return out, hand_offs

    out, hand_offs = asyncio.run(scenario())
    np.testing.assert_array_equal(out, x.sum(axis=1))
    assert model.calls == [4, 4, 2]
    assert hand_offs == 1, "nothing else waited, yet the calls were handed off one by one"
    # the observer (drift window, capture) sees the hand-off's rows once, not per call
    assert seen == [(10, [[0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0, 18.0]])]


def test_a_small_request_runs_after_one_call_of_a_large_one() -> None:
    model = Model(hold_first=True)
    large = np.ones((10, 2))
    small = np.full((1, 2), 3.0)

    async def scenario() -> tuple[Any, Any]:
        batcher = Batcher(model, max_batch_size=4, max_wait_s=0.0)
        batcher.start()
        big = batcher.submit(large)
        await _until(model.started)  # the large request's first call runs
        little = batcher.submit(small)
        model.go.set()
        results = await asyncio.gather(big, little)
        await batcher.close()
        return results[0], results[1]

    big, little = asyncio.run(scenario())
    assert model.calls == [4, 1, 4, 2], "the small request waited for more than one call"
    np.testing.assert_array_equal(big, np.full(10, 2.0))
    np.testing.assert_array_equal(little, [6.0])


def test_a_large_remainder_that_fits_shares_a_batch_and_is_joined() -> None:
    model = Model(hold_first=True)
    large = np.arange(6 * 2, dtype=float).reshape(6, 2)

    async def scenario() -> tuple[Any, Any]:
        batcher = Batcher(model, max_batch_size=4, max_wait_s=0.0)
        batcher.start()
        big = batcher.submit(large)
        await _until(model.started)
        little = batcher.submit(np.ones((1, 2)))
        model.go.set()
        results = await asyncio.gather(big, little)
        await batcher.close()
        return results[0], results[1]

    big, little = asyncio.run(scenario())
    assert model.calls == [4, 3], "the small request and the last 2 rows were not merged"
    np.testing.assert_array_equal(big, large.sum(axis=1))
    np.testing.assert_array_equal(little, [2.0])


def test_a_failing_call_fails_only_the_large_request() -> None:
    model = Model()
    large = np.ones((9, 2))
    large[6, 0] = -1.0  # in the second call

    async def scenario() -> list[Any]:
        batcher = Batcher(model, max_batch_size=4, max_wait_s=0.0)
        batcher.start()
        results = await asyncio.gather(batcher.submit(large), return_exceptions=True)
        after = await batcher.submit(np.ones((2, 2)))
        await batcher.close()
        return [*results, after]

    failed, after = asyncio.run(scenario())
    assert isinstance(failed, InvalidInput)
    assert model.calls == [4, 4, 2], "the batcher went on after the failed call"
    np.testing.assert_array_equal(after, [2.0, 2.0])


def test_a_timed_out_large_request_stops_between_calls() -> None:
    model = Model(hold_first=True)

    async def scenario() -> None:
        batcher = Batcher(model, max_batch_size=4, max_wait_s=0.0)
        batcher.start()
        big = batcher.submit(np.ones((12, 2)))
        await _until(model.started)
        big.cancel()  # what a request timeout does
        model.go.set()
        with pytest.raises(asyncio.CancelledError):
            await big
        await batcher.close()

    asyncio.run(scenario())
    assert model.calls == [4], "calls went on for a request nobody waits for"
