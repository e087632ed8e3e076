"""The naive baseline: a plain FastAPI + uvicorn endpoint around the same model.

INFERSTACK_BENCH_BUNDLE=examples/logreg-20f/bundle uvicorn bench.fastapi_baseline:app
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import skops.io as sio
from fastapi import FastAPI
from pydantic import BaseModel

BUNDLE = Path(os.environ.get("INFERSTACK_BENCH_BUNDLE", "examples/logreg-20f/bundle"))
# The bundle records which types its skops file may build; the baseline trusts the same.
model = sio.load(
    BUNDLE / "model.skops", trusted=sio.get_untrusted_types(file=BUNDLE / "model.skops")
)
app = FastAPI()


class Request(BaseModel):
    """``{"instances": [[...], ...]}``, as the runtime's ``/predict`` takes."""

    instances: list[list[float]]


@app.post("/predict")
def predict(request: Request) -> dict[str, list[list[float]]]:
    """Validate with pydantic, predict with scikit-learn, answer JSON."""
    return {"predictions": model.predict_proba(np.asarray(request.instances)).tolist()}
