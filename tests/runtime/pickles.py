"""A real model in a pickle that also runs code when loaded: it writes a marker file.

Trained and pickled here, never downloaded. Loading ``marker_pickle(...)``'s file with
joblib creates ``marker`` and returns a working ``LogisticRegression``, so a test can
tell both whether the payload ran and that, with the opt-in, the bundle serves.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression

WIDTH = 4


class _Payload:
    """Unpickles by calling ``eval``: writes the marker, then rebuilds the model."""

    def __init__(self, marker: Path, model: Any) -> None:
        self.marker = marker
        self.model = model

    def __reduce__(self) -> tuple[Any, ...]:
        code = (
            "(__import__('pathlib').Path(marker).write_text('ran'),"
            " __import__('pickle').loads(model))[1]"
        )
        return (eval, (code, {"marker": str(self.marker), "model": pickle.dumps(self.model)}))


def trained_model() -> LogisticRegression:
    """A small logistic regression on ``WIDTH`` features."""
    x = np.random.default_rng(0).normal(size=(80, WIDTH))
    return LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))


def marker_pickle(path: Path, marker: Path) -> Path:
    """Write a joblib file at ``path`` that creates ``marker`` when it is loaded."""
    joblib.dump(_Payload(marker, trained_model()), path)
    assert not marker.exists()
    return path
