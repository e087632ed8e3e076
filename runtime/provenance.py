"""Which versions saved a bundle, and whether this environment may load it.

``bundle()`` records Python's version and the framework's (from the installed
distributions' metadata) in the manifest's ``saved_with``. At start the server
compares them with what is installed: pickles (scikit-learn, LightGBM, PyTorch,
custom code) are only safe under the versions that wrote them, so another minor
version warns and another major version refuses unless forced.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Iterable
from importlib import metadata

from inferstack.runtime.errors import BundleError
from inferstack.runtime.manifest import Manifest, SavedWith

log = logging.getLogger("inferstack.runtime")

FRAMEWORK_PACKAGES: dict[str, tuple[str, ...]] = {
    "sklearn": ("scikit-learn", "joblib", "skops"),
    "xgboost": ("xgboost",),
    "lightgbm": ("lightgbm",),
    "onnx": ("onnxruntime",),
    "pytorch": ("torch",),
    "custom": (),
}
"""Per framework: its own distribution first, then ones its artifact depends on."""

VERSION_BOUND = frozenset({"sklearn", "lightgbm", "pytorch", "custom"})
"""Frameworks whose artifacts are pickles (or pickle-like) and so tied to versions.
XGBoost's JSON/UBJ and ONNX files are portable formats."""


def installed(name: str) -> str | None:
    """The installed version of a distribution, or ``None``."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def saved_with_here(framework: str, extra: Iterable[str] = ()) -> SavedWith:
    """The versions of this environment for a bundle of ``framework``.

    ``extra`` are more distribution names to record (a custom predictor's requirements).
    """
    names = FRAMEWORK_PACKAGES.get(framework, ())
    main = names[0] if names else None
    packages = {
        n: v for n in (*names[1:], "numpy", *extra) if n != main and (v := installed(n)) is not None
    }
    return SavedWith(
        python=platform.python_version(),
        framework=main,
        framework_version=installed(main) if main else None,
        packages=packages,
    )


def _release(version: str) -> tuple[int, int] | None:
    from packaging.version import InvalidVersion, Version

    try:
        release = Version(version).release
    except InvalidVersion:
        return None
    return release[0], release[1] if len(release) > 1 else 0


def check_saved_with(manifest: Manifest, allow_mismatch: bool = False) -> list[str]:
    """Compare the bundle's recorded versions with this environment's; returns the warnings.

    Another major version of a version-bound framework (or of a custom bundle's
    recorded packages) is a ``BundleError`` unless ``allow_mismatch``; another minor
    version, or any forced mismatch, is a logged warning naming both versions.
    """
    saved = manifest.saved_with
    if saved is None:
        log.info(
            "bundle does not record the versions that saved it; they cannot be checked",
            extra={"model": manifest.name},
        )
        return []
    if manifest.framework not in VERSION_BOUND:
        return []
    recorded = dict(saved.packages) if manifest.framework == "custom" else {}
    if saved.framework and saved.framework_version:
        recorded = {saved.framework: saved.framework_version, **recorded}
    warnings = []
    for name, then in recorded.items():
        now = installed(name)
        if now is None or now == then:
            continue  # a missing package fails the load with its own clear error
        was, is_ = _release(then), _release(now)
        what = f"bundle '{manifest.name}' was saved with {name} {then}; this environment has {now}"
        if was is not None and is_ is not None and was[0] != is_[0]:
            if not allow_mismatch:
                raise BundleError(
                    f"{what}: another major version may not load its "
                    f"{manifest.framework} artifact safely; install {name}=={then}, re-bundle "
                    "the model, or force it with INFERSTACK_ALLOW_VERSION_MISMATCH=true "
                    "(inferstack serve --allow-version-mismatch)"
                )
            warnings.append(f"{what} (another major version, loading anyway as forced)")
        elif was is None or is_ is None or was != is_:
            warnings.append(f"{what} (another minor version: predictions may differ)")
    for message in warnings:
        log.warning(message, extra={"model": manifest.name})
    return warnings
