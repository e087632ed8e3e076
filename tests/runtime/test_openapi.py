"""The served OpenAPI document is valid and describes what the server accepts."""

from __future__ import annotations

import jsonschema
import pytest

from tests.runtime.server import RuntimeServer


def test_openapi_document_is_valid_and_matches_the_server(sklearn_server: RuntimeServer) -> None:
    doc = sklearn_server.get("/openapi.json").json()
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(doc)
    assert set(doc["paths"]) >= {"/predict", "/invocations", "/score", "/v2/models/{name}/infer"}
    schema = doc["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    good = {"instances": [[0.5] * 20, {f"f{i}": 1.0 for i in range(20)}]}
    jsonschema.validate(good, schema)
    assert sklearn_server.post("/predict", json=good).status_code == 200
    for bad in ({"instances": [[0.5] * 19]}, {"instances": [["x"] * 20]}, {"rows": []}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
        assert sklearn_server.post("/predict", json=bad).status_code == 400
