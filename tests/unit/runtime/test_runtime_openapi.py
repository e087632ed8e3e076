"""The OpenAPI document lists every route the router answers, and only those."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from inferstack.runtime.app import InferenceApp
from inferstack.runtime.openapi import openapi_document
from inferstack.runtime.settings import RuntimeSettings

BUNDLE = Path(__file__).resolve().parents[3] / "examples" / "logreg-20f" / "bundle"


@pytest.fixture(scope="module")
def app() -> InferenceApp:
    return InferenceApp(RuntimeSettings(bundle_dir=BUNDLE))


def test_every_route_is_documented(app: InferenceApp) -> None:
    manifest = app.service.manifest
    assert manifest is not None
    doc = openapi_document(manifest)
    pytest.importorskip("openapi_spec_validator").validate(doc)
    documented = {
        (path, method.upper()) for path, item in doc["paths"].items() for method in item
    } - {(path, "PARAMETERS") for path in doc["paths"]}
    served = {(path, method) for path, methods in app.routes.items() for method in methods}
    for prefix in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        served |= {(prefix, "GET"), (f"{prefix}/ready", "GET"), (f"{prefix}/infer", "POST")}
    assert documented == served
    for path, method in documented:  # each documented route resolves in the router
        concrete = path.replace("{name}", manifest.name).replace("{version}", manifest.version)
        app.resolve(concrete, method)


def test_score_body_schema_takes_both_azure_shapes(app: InferenceApp) -> None:
    doc = openapi_document(app.service.manifest)
    body = doc["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    row = [0.5] * 20
    names = [f"f{i}" for i in range(20)]
    jsonschema.validate({"data": [row]}, body)
    jsonschema.validate({"input_data": [row]}, body)
    jsonschema.validate({"input_data": {"columns": names, "data": [row]}}, body)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"rows": [row]}, body)
