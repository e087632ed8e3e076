"""The reference samples file: values kept for two-sample (KS) tests, beside the manifest.

Samples are too large for ``inferstack.yaml`` (which every start parses), so ``bundle()``
writes them as one compressed ``.npz`` in the bundle (float32, which is plenty for a KS
test), named by the manifest's ``reference_samples`` and covered by its digests. Keys
are ``feature.<name>`` per numeric feature and ``prediction`` for numeric outputs. The
drift monitor reads it on first use, without pickles.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inferstack.runtime.errors import BundleError

SAMPLES_FILE = "reference.npz"
_FEATURE = "feature."
_PREDICTION = "prediction"


@dataclass(frozen=True)
class ReferenceSamples:
    """Reference values per numeric feature, and of numeric predictions."""

    features: dict[str, np.ndarray] = field(default_factory=dict)
    prediction: np.ndarray | None = None


def write_samples(path: Path, samples: ReferenceSamples) -> None:
    """Write ``samples`` to ``path`` (a new file) as compressed float32 arrays."""
    if path.exists():
        raise BundleError(f"bundle file '{path.name}' exists: it is the reference samples' name")
    arrays = {_FEATURE + k: np.asarray(v, dtype=np.float32) for k, v in samples.features.items()}
    if samples.prediction is not None:
        arrays[_PREDICTION] = np.asarray(samples.prediction, dtype=np.float32)
    with path.open("wb") as f:
        np.savez_compressed(f, **arrays)  # type: ignore[arg-type]


def read_samples(path: Path) -> ReferenceSamples:
    """The samples in ``path`` as float64 arrays; a clear error if it cannot be read."""
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: np.asarray(data[k], dtype=np.float64) for k in data.files}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise BundleError(f"reference samples '{path}' cannot be read: {err}") from err
    return ReferenceSamples(
        {k.removeprefix(_FEATURE): v for k, v in arrays.items() if k.startswith(_FEATURE)},
        arrays.get(_PREDICTION),
    )
