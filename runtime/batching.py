"""Merge request arrays into one batch and split the model's outputs back; cut an
oversized request into model-sized chunks and join their outputs again.

Pure functions, independent of the queue in ``batcher.py``, so they are tested alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def merge(arrays: list[np.ndarray]) -> tuple[np.ndarray, list[int]]:
    """Concatenate per-request arrays along the batch axis; returns the batch and row counts."""
    counts = [len(a) for a in arrays]
    if len(arrays) == 1:
        return arrays[0], counts
    return np.concatenate(arrays, axis=0), counts


def split(outputs: Any, counts: list[int]) -> list[Any]:
    """Cut a batch's outputs into one slice per request, in ``merge`` order."""
    total = sum(counts)
    size = len(outputs) if hasattr(outputs, "__len__") else -1
    if size != total:
        raise ValueError(f"model returned {size} outputs for {total} rows")
    if len(counts) == 1:
        return [outputs]
    parts = []
    start = 0
    for n in counts:
        parts.append(outputs[start : start + n])
        start += n
    return parts


def chunk(x: np.ndarray, size: int) -> list[np.ndarray]:
    """``x`` cut along the batch axis into views of at most ``size`` rows, in order."""
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, got {size}")
    return [x[start : start + size] for start in range(0, len(x), size)]


def join(parts: list[Any]) -> Any:
    """The outputs of ``chunk``'s pieces as one, in order (arrays concatenated, else a list)."""
    if len(parts) == 1:
        return parts[0]
    if all(isinstance(p, np.ndarray) and p.ndim >= 1 for p in parts):
        return np.concatenate(parts, axis=0)
    joined: list[Any] = []
    for part in parts:
        joined.extend(part)
    return joined
