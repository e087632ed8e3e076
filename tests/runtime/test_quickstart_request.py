"""The request `make up` prints a curl for is a valid request for the committed bundle."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import skops.io as sio

from tests.runtime.server import RuntimeServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "logreg-20f"


def test_quickstart_request_predicts_like_the_model(tmp_path: Path) -> None:
    body = json.loads((EXAMPLE / "request.json").read_text())
    model = sio.load(EXAMPLE / "bundle" / "model.skops")  # types skops trusts by default
    expected = model.predict_proba(np.asarray(body["instances"], dtype=np.float64))
    with RuntimeServer(EXAMPLE / "bundle", tmp_path) as server:
        response = server.post("/invocations", json=body)
    assert response.status_code == 200, response.text
    assert np.allclose(response.json()["predictions"], expected)
