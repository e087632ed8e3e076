"""Full garbage collections held off while a model loads.

Importing a framework builds hundreds of thousands of long-lived objects (scikit-learn
with skops imports scipy, and PyTorch where it is installed), and each full (oldest
generation) collection walks all of them. Loading the quickstart bundle in the
development environment ran five, 0.4 s of CPU before readiness, and together they
freed about fifty objects. While a load runs, only the young generations are
collected, which still free the short-lived cycles that imports leave; the service
then freezes what it loaded (``gc.freeze``) and full collections resume.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

_HELD = 1 << 30
"""A threshold the oldest generation's count never reaches."""

_lock = threading.Lock()
_holders = 0
_threshold: int | None = None


@contextlib.contextmanager
def full_collections_held() -> Iterator[None]:
    """No full collection inside the block; nests, and loads may overlap (tests)."""
    global _holders, _threshold
    with _lock:
        if _holders == 0:
            first, second, _threshold = gc.get_threshold()
            gc.set_threshold(first, second, _HELD)
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _threshold is not None:
                first, second, _ = gc.get_threshold()
                gc.set_threshold(first, second, _threshold)
                _threshold = None
