"""Cutting an oversized request into model-sized chunks and joining the answers."""

from __future__ import annotations

import numpy as np
import pytest

from inferstack.runtime.batching import chunk, join
from inferstack.runtime.logs import clip


def test_chunks_keep_order_and_size() -> None:
    x = np.arange(23 * 2).reshape(23, 2)
    parts = chunk(x, 10)
    assert [len(p) for p in parts] == [10, 10, 3]
    np.testing.assert_array_equal(join(parts), x)


def test_join_lists_and_refuse_zero_size() -> None:
    assert join([["a", "b"], ["c"]]) == ["a", "b", "c"]
    assert join([np.zeros(2)]).shape == (2,)
    with pytest.raises(ValueError, match="at least 1"):
        chunk(np.zeros((3, 1)), 0)


def test_clip_says_how_much_was_cut() -> None:
    assert clip("short") == "short"
    assert clip("x" * 300, 10) == "x" * 10 + "...[290 more]"
