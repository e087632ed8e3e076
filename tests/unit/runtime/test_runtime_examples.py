"""The committed quickstart bundle is what ``examples/logreg-20f/train.py`` builds."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from inferstack.runtime import load_bundle, read_manifest
from inferstack.runtime.reference_samples import read_samples

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "logreg-20f"


def test_committed_bundle_matches_its_training_script(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("example_logreg_20f", EXAMPLE / "train.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    fresh, model_proba, rows = module.build(tmp_path / "bundle")
    committed = load_bundle(EXAMPLE / "bundle")
    # saved_with records the machine that trained it and digests the bytes it wrote (a
    # zip's timestamps); everything else must agree, and load_bundle checked the digests.
    unversioned = {"saved_with": None, "digests": None}
    assert read_manifest(fresh).model_copy(update=unversioned) == committed.manifest.model_copy(
        update=unversioned
    )
    assert committed.manifest.saved_with is not None
    assert committed.manifest.artifact == "model.skops"  # no pickle: it loads without opt-in
    assert not committed.manifest.allow_pickle
    assert set(committed.manifest.digests or {}) == {"model.skops", "reference.npz"}
    # the KS samples live in the digested binary file, not in the YAML every start parses
    assert committed.manifest.reference_samples == "reference.npz"
    ours, theirs = (
        read_samples(EXAMPLE / "bundle/reference.npz"),
        read_samples(fresh / "reference.npz"),
    )
    assert ours.features.keys() == theirs.features.keys() == set(committed.manifest.input.names)
    for name, values in ours.features.items():
        np.testing.assert_array_equal(values, theirs.features[name])
    assert ours.prediction is not None
    assert theirs.prediction is not None
    np.testing.assert_array_equal(ours.prediction, theirs.prediction)
    assert (EXAMPLE / "bundle/inferstack.yaml").stat().st_size < 20_000
    np.testing.assert_allclose(committed.run(rows), model_proba(rows), rtol=1e-12)
    assert sum(f.stat().st_size for f in (EXAMPLE / "bundle").iterdir()) < 200_000
