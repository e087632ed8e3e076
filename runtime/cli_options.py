"""The ``inferstack bundle`` command's option values, checked, as ``bundle()`` arguments.

Every bad value is a ``BundleError`` whose message starts with the option's name.
Light imports only: the CLI imports this module; pandas is imported for ``--sample``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from inferstack.runtime.contract import DTYPES, FRAMEWORKS, SEMVER_PATTERN
from inferstack.runtime.errors import BundleError

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
OUTPUT_KINDS = ("probabilities", "label", "value", "raw")


def bundle_options(
    *,
    name: str,
    version: str,
    framework: str | None,
    features: str | None,
    sample: Path | None,
    shape: str | None,
    dtype: str,
    output: str | None,
    files: list[Path],
    requirements: Path | None,
    reference: Path | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``bundle()`` from the command's option values."""
    if not re.match(NAME_PATTERN, name):
        raise BundleError(
            f"--name '{name}': use lowercase letters, digits and - _ . (at most 63 characters)"
        )
    if not re.match(SEMVER_PATTERN, version):
        raise BundleError(f"--version '{version}': expected a semantic version such as 1.0.0")
    if framework is not None and framework not in FRAMEWORKS:
        raise BundleError(f"--framework '{framework}': expected one of {', '.join(FRAMEWORKS)}")
    _one_of("--dtype", dtype, DTYPES)
    if output is not None:
        _one_of("--output", output, OUTPUT_KINDS)
    if features is not None and sample is not None:
        raise BundleError("--features and --sample both give the features: pass one")
    for extra in files:
        if not extra.is_file():
            raise BundleError(f"--files '{extra}' is not a file")
    return {
        "framework": framework,
        "features": parse_features(features, dtype) if features is not None else None,
        "sample": read_sample(sample) if sample is not None else None,
        "shape": parse_shape(shape) if shape else None,
        "dtype": dtype,
        "output": output,
        "files": files,
        "requirements": _requirements(requirements) if requirements is not None else None,
        "reference_data": read_sample(reference, "--reference") if reference is not None else None,
    }


def _one_of(option: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise BundleError(f"{option} '{value}': expected one of {', '.join(allowed)}")


def parse_features(text: str, default_dtype: str) -> list[dict[str, str]]:
    """``a,b:int64,c:string`` as features; a name alone takes ``default_dtype``."""
    out = []
    for item in text.split(","):
        name, sep, dtype = item.strip().rpartition(":")
        if not sep:
            name, dtype = dtype, default_dtype
        if not name:
            raise BundleError(f"--features '{text}': empty feature name in '{item}'")
        if dtype not in DTYPES:
            raise BundleError(
                f"--features '{text}': feature '{name}' has unknown dtype '{dtype}'; "
                f"expected one of {', '.join(DTYPES)}"
            )
        out.append({"name": name, "dtype": dtype})
    return out


def parse_shape(text: str) -> list[int]:
    """``3,32,32`` as a list of positive integers."""
    try:
        dims = [int(s) for s in text.split(",")]
    except ValueError:
        dims = []
    if not dims or any(d < 1 for d in dims):
        raise BundleError(f"--shape '{text}': expected comma-separated integers, e.g. 3,32,32")
    return dims


def _requirements(path: Path) -> tuple[str, ...]:
    from inferstack.runtime.requirements import read_requirements

    return read_requirements(path, "--requirements")


def read_sample(path: Path, option: str = "--sample") -> Any:
    """A DataFrame from a ``.csv`` or ``.parquet`` file (parquet needs pyarrow)."""
    if not path.is_file():
        raise BundleError(f"{option} '{path}' is not a file")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise BundleError(f"{option} '{path}': expected a .csv or .parquet file")
    try:
        import pandas as pd
    except ImportError as err:
        raise BundleError(f"{option} needs the package 'pandas': pip install pandas") from err
    if suffix != ".csv":
        try:
            import pyarrow  # noqa: F401 - only to name the missing package clearly
        except ImportError as err:
            raise BundleError(
                f"{option} '{path}': reading parquet needs the package 'pyarrow': "
                "pip install pyarrow"
            ) from err
    try:
        frame = pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path, engine="pyarrow")
    except (
        OSError,
        ValueError,
        UnicodeDecodeError,
    ) as err:  # pandas' parser errors are ValueErrors
        raise BundleError(f"{option} '{path}': cannot read it: {err}") from err
    if frame.columns.empty:
        raise BundleError(f"{option} '{path}': no columns")
    return frame
