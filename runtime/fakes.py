"""Fakes for users' own tests: models that need no framework package."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from inferstack.runtime.errors import InvalidInput
from inferstack.runtime.loaders.base import Predictor


class EchoModel(Predictor):
    """Returns each row's sum; rejects rows whose first value is negative.

    Use it as a custom predictor (``predictor: fakes:EchoModel`` after copying this
    module, or ``bundle(EchoModel, framework="custom", ...)``) to test clients,
    gateways and deployments without a real model. The rejection lets tests check
    that one bad row fails only its own request.
    """

    def load(self, bundle_dir: Path) -> None:
        self.loaded_from = Path(bundle_dir)

    def predict(self, inputs: Any) -> Any:
        x = np.asarray(inputs, dtype=np.float64).reshape(len(inputs), -1)
        bad = np.flatnonzero(x[:, 0] < 0)
        if bad.size:
            raise InvalidInput(f"row {int(bad[0])}: EchoModel rejects a negative first value")
        return x.sum(axis=1)
