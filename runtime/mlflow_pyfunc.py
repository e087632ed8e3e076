"""Serves an MLflow ``python_function`` model: the predictor of MLflow pyfunc bundles.

``inferstack bundle`` copies this file into a bundle made from an MLflow model that
has no flavour the runtime loads natively; the MLflow model sits beside it in
``mlflow_model/``. It needs ``mlflow`` at serve time (the bundle's requirements pin it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


class MlflowPyfunc:
    """Loads ``mlflow_model/`` with ``mlflow.pyfunc`` and predicts on named columns."""

    manifest: Any = None  # set by the runtime before load()

    def load(self, bundle_dir: Path) -> None:
        """Load the MLflow model beside this file."""
        import mlflow.pyfunc

        self.model = mlflow.pyfunc.load_model(str(Path(bundle_dir) / "mlflow_model"))

    def predict(self, batch: np.ndarray) -> Any:
        """A DataFrame of the schema's columns for named features, else the array."""
        schema = self.manifest.input if self.manifest is not None else None
        data: Any = batch
        if schema is not None and schema.features is not None and batch.ndim == 2:
            import pandas as pd

            data = pd.DataFrame(batch, columns=schema.names)
            typed = {n: d for n, d in zip(schema.names, schema.dtypes, strict=True)}
            data = data.astype({n: (object if d == "string" else d) for n, d in typed.items()})
        return np.asarray(self.model.predict(data))
