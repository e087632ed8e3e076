"""The OpenAPI document lists every route the router answers, and only those."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest

from inferstack.runtime.app import InferenceApp
from inferstack.runtime.openapi import openapi_document, v2_model_metadata
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
    served.add(("/v1/models/{name}:explain", "POST"))
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


@pytest.mark.parametrize("labels", [["no", "yes"], [3, 7]])
def test_v2_metadata_types_the_output_as_infer_answers(
    tmp_path: Path, labels: list[object]
) -> None:
    import numpy as np
    import orjson
    from sklearn.linear_model import LogisticRegression

    from inferstack.runtime import bundle, load_bundle
    from inferstack.runtime.protocols import encode_v2

    x = np.random.default_rng(0).normal(size=(60, 3))
    y = np.where(x[:, 0] > 0, labels[1], labels[0])
    path = bundle(
        LogisticRegression().fit(x, y),
        framework="sklearn",
        name="m",
        version="1.0.0",
        out=tmp_path / "b",
        output="label",
    )
    served = load_bundle(path)
    meta = v2_model_metadata(served.manifest, served.probe_output)["outputs"][0]
    answer = orjson.loads(encode_v2(served.run(x[:4]), "m", "1.0.0", "label", None))
    out = answer["outputs"][0]
    assert meta["datatype"] == out["datatype"]
    assert meta["shape"] == [-1, *out["shape"][1:]]


def test_v2_metadata_lists_one_tensor_per_feature_when_strings_mix_in() -> None:
    from inferstack.runtime.manifest import parse_manifest

    manifest = parse_manifest(
        {
            "name": "m",
            "version": "1.0.0",
            "framework": "custom",
            "predictor": "p:P",
            "input": {
                "features": [{"name": "city", "dtype": "string"}, {"name": "n", "dtype": "int64"}]
            },
        }
    )
    inputs = v2_model_metadata(manifest)["inputs"]
    assert inputs == [
        {"name": "city", "datatype": "BYTES", "shape": [-1]},
        {"name": "n", "datatype": "INT64", "shape": [-1]},
    ]
