"""Traffic weights as whole percents: what Azure ML's endpoint traffic and GKE's route
weights take, where the shared rollout logic works in shares."""

from __future__ import annotations

import math

from inferstack.components.lifecycle.seam import LifecycleError


def whole_percents(weights: dict[str, float]) -> dict[str, int]:
    """`weights` as integer percents that sum to exactly 100 (largest remainder, ties to
    the first name), so 1/3 each becomes 34, 33, 33. Refuses negative, non-finite or
    all-zero weights, which no platform would route."""
    bad = {k: w for k, w in weights.items() if not math.isfinite(w) or w < 0}
    if bad:
        raise LifecycleError(f"traffic weights must be finite and >= 0, got {bad}")
    total = sum(weights.values())
    if not weights or total <= 0:
        raise LifecycleError(
            f"traffic weights {weights} send traffic nowhere: at least one must be above 0"
        )
    exact = {k: 100 * w / total for k, w in weights.items()}
    out = {k: math.floor(v) for k, v in exact.items()}
    order = sorted(exact, key=lambda k: -(exact[k] - out[k]))
    for k in order[: 100 - sum(out.values())]:
        out[k] += 1
    return out
