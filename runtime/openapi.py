"""Metadata documents: the OpenAPI description and the V2 server/model metadata."""

from __future__ import annotations

from typing import Any

import numpy as np

from inferstack.runtime.contract import REQUEST_ID_HEADER, Routes
from inferstack.runtime.feedback import MAX_OUTCOMES
from inferstack.runtime.manifest import Manifest
from inferstack.runtime.protocols import NP_TO_V2
from inferstack.runtime.version import inferstack_version

_JSON_TYPE = {
    "float32": "number",
    "float64": "number",
    "int32": "integer",
    "int64": "integer",
    "bool": "boolean",
    "string": "string",
}
_V2_TYPE = {
    "float32": "FP32",
    "float64": "FP64",
    "int32": "INT32",
    "int64": "INT64",
    "bool": "BOOL",
    "string": "BYTES",
}


def server_metadata() -> dict[str, Any]:
    """``GET /v2`` (and gRPC ``ServerMetadata``): the extensions are the V2 ones served."""
    return {
        "name": "inferstack",
        "version": inferstack_version(),
        "extensions": ["binary_tensor_data"],
    }


def v2_model_metadata(manifest: Manifest, output: np.ndarray | None = None) -> dict[str, Any]:
    """``GET /v2/models/{name}``; ``output`` (a probe prediction) types the output tensor."""
    inp = manifest.input
    dtypes = set(inp.dtypes)
    if "string" in dtypes and len(dtypes) > 1:  # only one tensor per feature can carry these
        inputs = [
            {"name": n, "datatype": _V2_TYPE[d], "shape": [-1]}
            for n, d in zip(inp.names, inp.dtypes, strict=True)
        ]
    else:
        datatype = _V2_TYPE[dtypes.pop()] if len(dtypes) == 1 else "FP64"
        inputs = [{"name": "input-0", "datatype": datatype, "shape": [-1, *inp.row_shape]}]
    names = manifest.output.names
    # Per-row shape: the probe's (or a served answer's) when there is one, else one
    # column per class name for probabilities, else a scalar per row.
    per_class = manifest.output.kind == "probabilities" and names and len(names) > 1
    out_shape = [-1, len(names)] if per_class and names else [-1]
    out_type = "FP64"
    if output is not None and output.ndim >= 1 and output.size:
        out_shape = [-1, *output.shape[1:]]
        out_type = NP_TO_V2.get(output.dtype.str, "BYTES")
    meta: dict[str, Any] = {
        "name": manifest.name,
        "versions": [manifest.version],
        "platform": manifest.framework,
        "inputs": inputs,
        "outputs": [{"name": manifest.output.kind, "datatype": out_type, "shape": out_shape}],
        "parameters": {"features": manifest.input.names},
    }
    if manifest.output.names:
        meta["parameters"]["output_names"] = list(manifest.output.names)
    return meta


def _row_schema(manifest: Manifest | None) -> dict[str, Any]:
    if manifest is None:
        return {"type": "array"}
    inp = manifest.input
    if len(inp.row_shape) > 1:
        return {"type": "array", "description": f"nested array of shape {list(inp.row_shape)}"}
    items = [
        {"type": _JSON_TYPE[d], "title": n} for n, d in zip(inp.names, inp.dtypes, strict=True)
    ]
    as_list = {"type": "array", "prefixItems": items, "minItems": inp.width, "maxItems": inp.width}
    as_object = {
        "type": "object",
        "additionalProperties": False,
        "required": inp.names,
        "properties": {
            n: {"type": _JSON_TYPE[d]} for n, d in zip(inp.names, inp.dtypes, strict=True)
        },
    }
    return {"oneOf": [as_list, as_object]}


_REQUEST_ID = {
    REQUEST_ID_HEADER: {
        "description": "The request's id: the caller's X-Request-Id when it is 1 to 128 "
        "characters of A-Z a-z 0-9 . _ : @ / + = -, else a fresh one; the key of its "
        "captured record and of the outcome posted to /feedback.",
        "schema": {"type": "string"},
    }
}


def _post(
    summary: str, schema: dict[str, Any], *, csv: bool = False, request_id: bool = False
) -> dict[str, Any]:
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if csv:
        content["text/csv"] = {"schema": {"type": "string"}}
    ok: dict[str, Any] = {
        "description": "predictions",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
    if request_id:
        ok["headers"] = _REQUEST_ID
    return {
        "post": {
            "summary": summary,
            "requestBody": {"required": True, "content": content},
            "responses": {
                "200": ok,
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "413": {"$ref": "#/components/responses/Error"},
                "503": {"$ref": "#/components/responses/Error"},
                "504": {"$ref": "#/components/responses/Error"},
            },
        }
    }


def _get(summary: str) -> dict[str, Any]:
    return {
        "get": {
            "summary": summary,
            "responses": {
                "200": {"description": "ok"},
                "503": {"$ref": "#/components/responses/Error"},
            },
        }
    }


_OUTCOME = {
    "type": "object",
    "required": ["id", "outcome"],
    "properties": {
        "id": {"type": "string", "maxLength": 128, "description": "X-Request-Id of the request"},
        "outcome": {
            "description": "The actual label, class index or value; a list, one per row, "
            "for a request of several rows.",
        },
    },
}
_FEEDBACK = {
    "oneOf": [
        _OUTCOME,
        {
            "type": "object",
            "required": ["outcomes"],
            "properties": {"outcomes": {"type": "array", "maxItems": MAX_OUTCOMES}},
        },
    ]
}


def openapi_document(manifest: Manifest | None) -> dict[str, Any]:
    """OpenAPI 3.1 description of every route, with the bundle's row schema."""
    rows = {"type": "array", "minItems": 1, "items": _row_schema(manifest)}
    instances = {"type": "object", "required": ["instances"], "properties": {"instances": rows}}
    tensor = {
        "type": "object",
        "required": ["name", "shape", "datatype", "data"],
        "properties": {
            "name": {"type": "string"},
            "shape": {"type": "array", "items": {"type": "integer"}},
            "datatype": {
                "type": "string",
                "enum": [*_V2_TYPE.values(), "FP16", "INT8", "INT16", "UINT8", "UINT16", "UINT32"],
            },
            "data": {"type": "array"},
        },
    }
    v2 = {
        "type": "object",
        "required": ["inputs"],
        "properties": {
            "id": {"type": "string"},
            "inputs": {"type": "array", "minItems": 1, "items": tensor},
        },
    }
    name = manifest.name if manifest else "model"
    data = {"type": "object", "required": ["data"], "properties": {"data": rows}}
    split = {
        "type": "object",
        "required": ["input_data"],
        "properties": {
            "input_data": {
                "oneOf": [
                    rows,
                    {
                        "type": "object",
                        "required": ["data"],
                        "properties": {
                            "columns": {"type": "array", "items": {"type": "string"}},
                            "index": {"type": "array"},
                            "data": {"type": "array", "minItems": 1},
                        },
                    },
                ]
            }
        },
    }
    model_param = {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": [name]},
    }
    version_param = {
        "name": "version",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": [manifest.version if manifest else "0"]},
    }
    v2_model_paths: dict[str, Any] = {}
    for prefix, params in (
        ("/v2/models/{name}", [model_param]),
        ("/v2/models/{name}/versions/{version}", [model_param, version_param]),
    ):
        v2_model_paths[prefix] = {**_get("V2 model metadata"), "parameters": params}
        v2_model_paths[f"{prefix}/ready"] = {**_get("V2 model readiness"), "parameters": params}
        v2_model_paths[f"{prefix}/infer"] = {
            **_post("V2 inference", v2, request_id=True),
            "parameters": params,
        }
    explain = {
        "type": "object",
        "required": ["instances"],
        "properties": {"instances": rows, "id": {"type": "string"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"inferstack runtime: {name}",
            "version": manifest.version if manifest else "0",
        },
        "paths": {
            "/predict": _post("Predict (JSON rows)", instances, request_id=True),
            "/invocations": _post(
                "SageMaker invocations", {"oneOf": [instances, rows]}, csv=True, request_id=True
            ),
            "/score": _post("Azure ML scoring", {"anyOf": [data, split]}, request_id=True),
            Routes.FEEDBACK: _post("Ground-truth outcomes by request id (live quality)", _FEEDBACK),
            "/explain": _post("Per-feature attributions (SHAP)", explain),
            "/v1/models/{name}:explain": {
                **_post("KServe V1 explain", explain),
                "parameters": [model_param],
            },
            **v2_model_paths,
            "/": _get("Azure ML liveness"),
            "/ping": _get("SageMaker health"),
            "/live": _get("Liveness"),
            "/ready": _get("Readiness"),
            "/v2/health/live": _get("V2 liveness"),
            "/v2/health/ready": _get("V2 readiness"),
            "/v2": _get("V2 server metadata"),
            "/metrics": _get("Prometheus metrics"),
            "/openapi.json": _get("This document"),
        },
        "components": {
            "responses": {
                "Error": {
                    "description": "error",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "error": {
                                        "type": "object",
                                        "properties": {
                                            "code": {"type": "string"},
                                            "message": {"type": "string"},
                                        },
                                    }
                                },
                            }
                        }
                    },
                }
            },
        },
    }
