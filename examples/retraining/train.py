"""Retrain the quickstart model on new data and bundle it with a bumped version.

The example consumer of inferstack's retraining event (docs/monitoring.md, "Retraining"):
`workflow.yml` runs it when a drift or quality alarm fires, then commits the bundle and
opens a pull request. It trains on the CSV the user points at (features f0..f19 and a
`label` column), keeps the features as the drift reference, and runs `inferstack bundle`
with the next minor version and `--reference`.

    python examples/retraining/train.py --data examples/retraining/data/latest.csv \
        --bundle examples/logreg-20f/bundle
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
import skops.io
from sklearn.linear_model import LogisticRegression

from inferstack.runtime.errors import InferstackError
from inferstack.runtime.manifest import read_manifest

LABEL = "label"


class RetrainError(InferstackError):
    """The data or the current bundle cannot be used; the message names the problem."""

    code = "retrain"


def next_version(current: str) -> str:
    """The next minor version: 1.4.2 -> 1.5.0."""
    parts = current.split("-", 1)[0].split("+", 1)[0].split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise RetrainError(f"the bundle's version {current!r} is not MAJOR.MINOR.PATCH")
    return f"{parts[0]}.{int(parts[1]) + 1}.0"


def read_data(path: Path, features: list[str]) -> tuple[pd.DataFrame, pd.Series]:
    """The feature columns (in the bundle's order) and the label of `path`."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as err:
        raise RetrainError(f"cannot read {path}: {err}") from err
    missing = [c for c in [*features, LABEL] if c not in frame.columns]
    if missing:
        raise RetrainError(f"{path} has no column(s) {', '.join(missing)}")
    if len(frame) < 20 or frame[LABEL].nunique() < 2:
        raise RetrainError(f"{path} needs at least 20 rows and both classes in '{LABEL}'")
    return frame[features], frame[LABEL]


def retrain(data: Path, bundle: Path, out: Path | None = None) -> tuple[Path, str]:
    """Train on `data`, bundle next to (or over) `bundle`; the new bundle and version."""
    try:
        manifest = read_manifest(bundle)
    except InferstackError as err:
        raise RetrainError(f"cannot read the bundle {bundle}: {err}") from err
    name, version = manifest.name, next_version(manifest.version)
    features = manifest.input.names
    x, y = read_data(data, features)
    model = LogisticRegression(max_iter=1000).fit(x.to_numpy(), y.to_numpy())
    out = out or bundle
    with tempfile.TemporaryDirectory() as tmp:
        model_file, reference = Path(tmp) / "model.skops", Path(tmp) / "reference.csv"
        skops.io.dump(model, model_file)
        x.to_csv(reference, index=False)
        command = [
            *_inferstack(),
            "bundle",
            str(model_file),
            "--name",
            name,
            "--version",
            version,
            "--framework",
            "sklearn",
            "--features",
            ",".join(features),
            "--reference",
            str(reference),
            "--out",
            str(out),
            "--overwrite",
        ]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RetrainError(f"inferstack bundle failed: {done.stderr.strip() or done.stdout}")
    return out, version


def _inferstack() -> list[str]:
    """The CLI of the running interpreter's environment."""
    return [sys.executable, "-m", "inferstack.components.cli"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="CSV: f0..f19 and label")
    parser.add_argument("--bundle", type=Path, required=True, help="the current bundle")
    parser.add_argument("--out", type=Path, help="where to write (default: over --bundle)")
    args = parser.parse_args(argv)
    try:
        out, version = retrain(args.data, args.bundle, args.out)
    except RetrainError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"version={version}")
    print(f"bundle={out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
