"""ONNX models run by onnxruntime, on CUDA when the CUDA provider is available."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from inferstack.runtime.errors import BundleError
from inferstack.runtime.loaders.base import Predictor, artifact_path, require
from inferstack.runtime.manifest import OutputSchema

_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(bool)": np.bool_,
}


def save(model: Any, out_dir: Path) -> str:
    """Write an ``onnx.ModelProto`` (or serialized bytes); returns the artifact's file name."""
    data = model if isinstance(model, bytes) else model.SerializeToString()
    (out_dir / "model.onnx").write_bytes(data)
    return "model.onnx"


def providers(ort: Any) -> list[str]:
    """CUDA first when this onnxruntime build has it, then CPU."""
    available = ort.get_available_providers()
    wanted = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return [p for p in wanted if p in available]


class OnnxPredictor(Predictor):
    """An ONNX graph with one input; serves the ``probabilities`` output when it has one."""

    framework = "onnx"

    def load(self, bundle_dir: Path) -> None:
        ort = require("onnxruntime", "onnx")
        path = artifact_path(bundle_dir, self.manifest)
        try:
            self.session = ort.InferenceSession(str(path), providers=providers(ort))
        except Exception as err:  # onnxruntime raises its own untyped errors
            raise BundleError(f"onnxruntime cannot load '{path.name}': {err}") from err
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise BundleError(f"ONNX model has {len(inputs)} inputs; the runtime serves one")
        self.input_name = inputs[0].name
        self.input_dtype = _ORT_DTYPES.get(inputs[0].type, np.float32)
        self.input_shape = inputs[0].shape
        names = [o.name for o in self.session.get_outputs()]
        wanted = "probabilities" if self.manifest.output.kind == "probabilities" else None
        self.output_name = wanted if wanted in names else names[-1 if wanted else 0]

    def predict(self, inputs: Any) -> Any:
        feed: dict[str, np.ndarray] = {
            self.input_name: np.ascontiguousarray(inputs, dtype=self.input_dtype)
        }
        return self.session.run([self.output_name], feed)[0]

    def expected_width(self) -> int | None:
        dims = self.input_shape[1:]
        if dims and all(isinstance(d, int) for d in dims):
            return int(np.prod(dims))
        return None

    def default_output(self) -> OutputSchema:
        names = [o.name for o in self.session.get_outputs()]
        return OutputSchema(kind="probabilities" if "probabilities" in names else "raw")
