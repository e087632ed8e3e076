"""A loaded bundle: manifest, predictor and input decoder, usable in-process."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inferstack.runtime.errors import BundleError, InferstackError
from inferstack.runtime.frames import probe_rows
from inferstack.runtime.integrity import check_files
from inferstack.runtime.loaders import Predictor, load_predictor
from inferstack.runtime.manifest import Manifest, read_manifest
from inferstack.runtime.schema import RowDecoder


@dataclass
class ServedModel:
    """What the server serves; ``predict`` is the same path requests take, minus HTTP."""

    bundle_dir: Path
    manifest: Manifest
    predictor: Predictor
    load_seconds: float = 0.0
    probe_output: np.ndarray | None = None
    """What the load-time probe returned (its dtype and row shape type V2 metadata)."""

    def __post_init__(self) -> None:
        self.decoder = RowDecoder(self.manifest.input)

    def note_output(self, out: Any) -> None:
        """Keep a served answer to type V2 metadata when no probe did (custom predictors)."""
        if self.probe_output is None:
            try:
                self.probe_output = np.asarray(out)
            except Exception:  # noqa: BLE001 - ragged outputs: metadata keeps its defaults
                self.probe_output = np.empty(0)

    def run(self, batch: np.ndarray) -> Any:
        """Run a validated batch through preprocess, predict and postprocess."""
        p = self.predictor
        return p.postprocess(p.predict(p.preprocess(batch)))

    def predict(self, rows: Any) -> Any:
        """Validate JSON-like ``rows`` against the schema and predict."""
        return self.run(self.decoder.decode(rows, "instances"))


def probe_batch(manifest: Manifest, rows: int = 2) -> np.ndarray:
    """Valid rows shaped and typed like a decoded request: zeros for numbers, and for
    string features a category seen in training (``""`` when the schema knows none)."""
    decoder = RowDecoder(manifest.input)
    if decoder.np_dtype is object:
        return probe_rows(manifest.input, rows)
    return np.zeros((rows, *manifest.input.row_shape), dtype=decoder.np_dtype)


def load_bundle(
    bundle_dir: str | Path,
    probe: bool = True,
    fast_path: bool = True,
    allow_pickle: bool = False,
    manifest: Manifest | None = None,
) -> ServedModel:
    """Load and check a bundle: its files, the manifest, the artifact, a probe prediction.

    Before anything is loaded, every file must lie inside the bundle folder (symlinks
    resolved) and match the digest the manifest records. A pickle-based artifact loads
    only when the manifest records the opt-in or ``allow_pickle`` is true. Raises
    ``BundleError`` naming the problem, e.g. when the schema does not fit the model.
    ``manifest`` is the bundle's manifest when the caller has read it already (the
    server reads it before listening); it is not read again.
    """
    bundle_dir = Path(bundle_dir)
    if manifest is None:
        manifest = read_manifest(bundle_dir)
    check_files(bundle_dir, manifest)
    start = time.perf_counter()
    predictor = load_predictor(bundle_dir, manifest, fast_path=fast_path, allow_pickle=allow_pickle)
    served = ServedModel(bundle_dir, manifest, predictor, time.perf_counter() - start)
    width = predictor.expected_width()
    if width is not None and width != manifest.input.width:
        raise BundleError(
            f"input schema has {manifest.input.width} features but the model expects {width}"
        )
    if probe and manifest.framework != "custom":
        check_probe(served)
    return served


def check_probe(served: ServedModel) -> None:
    """Predict on a probe batch; the output must have one entry per row."""
    batch = probe_batch(served.manifest)
    try:
        out = served.run(batch)
    except InferstackError:
        raise
    except Exception as err:  # any framework error means the schema and model disagree
        inp = served.manifest.input
        guessed = [
            n
            for n, d in zip(inp.names, inp.dtypes, strict=True)
            if d == "string" and n not in (inp.categories or {})
        ]
        hint = (
            f' (string features {guessed} were probed with "": give the values seen in '
            "training as input.categories, or bundle with sample=<training DataFrame>)"
            if guessed
            else ""
        )
        raise BundleError(
            f"schema does not match the model: probe prediction failed: {err}{hint}"
        ) from err
    if not hasattr(out, "__len__") or len(out) != len(batch):
        raise BundleError(
            f"model returned {getattr(out, '__len__', lambda: '?')()} rows for {len(batch)}"
        )
    try:
        served.probe_output = np.asarray(out)
    except Exception:  # noqa: BLE001 - ragged outputs: metadata falls back to defaults
        served.probe_output = None
