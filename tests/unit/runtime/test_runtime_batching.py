"""The batcher on its own: merge/split, batch formation, isolation of a failing request."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from inferstack.runtime import InvalidInput
from inferstack.runtime.batcher import Batcher
from inferstack.runtime.batching import merge, split


def test_merge_and_split_are_inverse() -> None:
    parts = [np.ones((1, 3)), np.zeros((2, 3)), np.full((1, 3), 7.0)]
    batch, counts = merge(parts)
    assert batch.shape == (4, 3)
    assert counts == [1, 2, 1]
    back = split(batch, counts)
    for a, b in zip(parts, back, strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="3 outputs for 4 rows"):
        split(np.ones(3), counts)


def _sum_rows(calls: list[int]) -> Any:
    def run(x: np.ndarray) -> np.ndarray:
        calls.append(len(x))
        if (x[:, 0] < 0).any():
            raise InvalidInput("negative")
        return x.sum(axis=1)

    return run


def test_requests_queued_together_share_one_call_and_bad_rows_fail_alone() -> None:
    calls: list[int] = []

    async def scenario() -> list[Any]:
        batcher = Batcher(_sum_rows(calls), max_batch_size=16, max_wait_s=0.0)
        batcher.start()
        futures = [
            batcher.submit(np.asarray([[float(i if i != 3 else -1), 1.0]])) for i in range(6)
        ]
        results = await asyncio.gather(*futures, return_exceptions=True)
        await batcher.close()
        return results

    results = asyncio.run(scenario())
    assert calls[0] == 6, "the six queued requests were not merged into one call"
    assert calls[1:] == [1] * 6, "after a failed batch each request is retried alone"
    assert isinstance(results[3], InvalidInput)
    assert [r.tolist() for i, r in enumerate(results) if i != 3] == [
        [1.0],
        [2.0],
        [3.0],
        [5.0],
        [6.0],
    ]


def test_max_batch_size_bounds_a_call() -> None:
    calls: list[int] = []

    async def scenario() -> None:
        batcher = Batcher(_sum_rows(calls), max_batch_size=4, max_wait_s=0.0)
        batcher.start()
        await asyncio.gather(*(batcher.submit(np.ones((1, 2))) for _ in range(10)))
        await batcher.close()

    asyncio.run(scenario())
    assert calls == [4, 4, 2]


def test_waits_for_incoming_requests_up_to_max_wait() -> None:
    calls: list[int] = []

    async def scenario() -> None:
        batcher = Batcher(_sum_rows(calls), max_batch_size=8, max_wait_s=5.0)
        batcher.start()
        batcher.incoming = 1  # a second request is still being received
        first = batcher.submit(np.ones((1, 2)))
        await asyncio.sleep(0.05)
        batcher.incoming = 0
        second = batcher.submit(np.ones((1, 2)))
        await asyncio.gather(first, second)
        await batcher.close()

    asyncio.run(scenario())
    assert calls == [2]


def test_close_finishes_queued_work() -> None:
    async def scenario() -> list[Any]:
        batcher = Batcher(lambda x: x.sum(axis=1), max_batch_size=2, max_wait_s=0.0)
        batcher.start()
        futures = [batcher.submit(np.ones((1, 2))) for _ in range(5)]
        await batcher.close()
        return [f.result().tolist() for f in futures]

    assert asyncio.run(scenario()) == [[2.0]] * 5


def test_close_drains_without_waiting_for_batch_mates_and_refuses_later_submits() -> None:
    calls: list[int] = []

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        batcher = Batcher(_sum_rows(calls), max_batch_size=16, max_wait_s=5.0)
        batcher.start()
        batcher.incoming = 1  # a request still being received: the worker would wait 5 s
        fut = batcher.submit(np.asarray([[1.0, 2.0]]))
        await asyncio.sleep(0.01)
        start = loop.time()
        await batcher.close()
        assert (await fut).tolist() == [3.0]
        with pytest.raises(RuntimeError, match="closed"):
            batcher.submit(np.asarray([[1.0, 2.0]]))
        return loop.time() - start

    assert asyncio.run(scenario()) < 1.0, "close() waited out max_wait_s"
    assert calls == [1]
