"""What pip installs into a runtime image: the bundle's framework and its requirements.

Each image carries the inferstack `runtime` extra, the extra of the bundle's own
framework (the GPU build of it in the GPU flavour), the framework's minor version that
saved a version-bound (pickled) artifact, the bundle's declared requirements
(`Manifest.requirements`) and those the build adds. All of it goes to one `pip
install`, so pip resolves the runtime's own pins and the bundle's together: a
conflict fails the build with pip's message instead of downgrading a runtime pin.

Flavours differ where PyPI has two builds of a framework:

- XGBoost: PyPI's `xgboost` wheel is the GPU-capable one and pulls the NCCL libraries
  (about 350 MB); the CPU flavour installs `xgboost-cpu` (the same `xgboost` module,
  5 MB). A requirement on `xgboost` becomes one on `xgboost-cpu` there.
- ONNX: the GPU flavour installs `onnxruntime-gpu` instead of `onnxruntime` (a
  requirement on `onnxruntime` becomes one on `onnxruntime-gpu`).
- PyTorch: PyPI's Linux `torch` wheels are the CUDA builds (GPU flavour); the CPU
  flavour adds PyTorch's CPU wheel index, whose `torch==X+cpu` pip prefers over
  PyPI's `torch==X`, so no multi-GB CUDA libraries are pulled.
- LightGBM: PyPI's wheel already runs on CPU and (OpenCL) GPU; it needs the system's
  OpenMP library, installed with apt (`libgomp1`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inferstack.components.image.source import ImageError
from inferstack.runtime.manifest import Manifest
from inferstack.runtime.provenance import FRAMEWORK_PACKAGES, VERSION_BOUND

TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
"""PyTorch's index of CPU-only wheels (`torch==X+cpu`), used by CPU builds of PyTorch."""

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_CPU_SUBSTITUTES = {"xgboost": "xgboost-cpu"}
_GPU_SUBSTITUTES = {"onnxruntime": "onnxruntime-gpu"}


@dataclass(frozen=True)
class FrameworkInstall:
    """What one framework needs in one flavour, beyond the `runtime` extra."""

    extras: tuple[str, ...]
    """inferstack extras, `runtime` included."""
    requirements: tuple[str, ...] = ()
    """pip requirements in place of (or beside) an extra."""
    extra_index_url: str = ""
    """A further package index pip reads (PyTorch's CPU wheels)."""
    apt_packages: tuple[str, ...] = ()
    """System packages the framework's libraries load (LightGBM: OpenMP)."""


_CPU: dict[str, FrameworkInstall] = {
    "sklearn": FrameworkInstall(("runtime", "sklearn")),
    "xgboost": FrameworkInstall(("runtime",), ("xgboost-cpu>=2.1", "pandas>=2.2")),
    "lightgbm": FrameworkInstall(("runtime", "lightgbm"), apt_packages=("libgomp1",)),
    "onnx": FrameworkInstall(("runtime", "onnx")),
    "pytorch": FrameworkInstall(("runtime", "pytorch"), extra_index_url=TORCH_CPU_INDEX),
    "custom": FrameworkInstall(("runtime",)),
}
_GPU: dict[str, FrameworkInstall] = {
    **_CPU,
    "xgboost": FrameworkInstall(("runtime", "xgboost")),
    "onnx": FrameworkInstall(("runtime",), ("onnxruntime-gpu>=1.17",)),
    "pytorch": FrameworkInstall(("runtime", "pytorch")),
}


def framework_install(framework: str, gpu: bool) -> FrameworkInstall:
    """The extras and packages for `framework`; `ImageError` for one without an extra."""
    table = _GPU if gpu else _CPU
    if framework not in table:
        raise ImageError(
            f"framework '{framework}' has no image extra; the image installs one of "
            f"{', '.join(sorted(table))}"
        )
    return table[framework]


CAPTURE_EXTRAS = {"s3": "capture-s3", "gs": "capture-gcs", "https": "capture-azure"}
"""The inferstack extra holding each capture sink's SDK, by the URI's scheme."""
_EXTRA = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def capture_extra(uri_scheme: str) -> str:
    """The extra a runtime writing captures to `uri_scheme://` needs in its image."""
    if uri_scheme not in CAPTURE_EXTRAS:
        raise ImageError(
            f"no capture sink for '{uri_scheme}://': one of "
            + ", ".join(f"{s}://" for s in CAPTURE_EXTRAS)
        )
    return CAPTURE_EXTRAS[uri_scheme]


def check_extras(extras: Iterable[str]) -> tuple[str, ...]:
    """Extra names as pip's `inferstack[...]` takes them; `ImageError` naming a bad one."""
    found = tuple(extras)
    for extra in found:
        if not _EXTRA.match(extra):
            raise ImageError(f"image extra {extra!r}: expected lowercase letters, digits, '-'")
    return found


def requirement_name(requirement: str) -> str:
    """The distribution name a requirement starts with, normalised (PEP 503)."""
    match = _NAME.match(requirement)
    if match is None:
        raise ImageError(f"requirement {requirement!r} does not start with a package name")
    return re.sub(r"[-_.]+", "-", match[1]).lower()


def flavoured(requirement: str, gpu: bool) -> str:
    """`requirement`, naming this flavour's build of its package (`xgboost` on CPU:
    `xgboost-cpu`), with its extras, version and markers kept."""
    swap = (_GPU_SUBSTITUTES if gpu else _CPU_SUBSTITUTES).get(requirement_name(requirement))
    if swap is None:
        return requirement.strip()
    return _NAME.sub(swap, requirement, count=1).strip()


def saved_with_pin(manifest: Manifest) -> str | None:
    """`scikit-learn==1.5.*` for a pickled artifact saved under scikit-learn 1.5.x.

    The runtime warns when a version-bound artifact loads under another minor version
    of its framework and refuses another major one; the image installs the minor
    version that saved it. `None` when the bundle records none or is portable.
    """
    saved = manifest.saved_with
    names = FRAMEWORK_PACKAGES.get(manifest.framework, ())
    if (
        manifest.framework not in VERSION_BOUND
        or saved is None
        or not saved.framework_version
        or not names
        or saved.framework != names[0]
    ):
        return None
    release = re.match(r"^(\d+)\.(\d+)", saved.framework_version)
    if release is None:
        return None
    return f"{saved.framework}=={release[1]}.{release[2]}.*"


def check_build_requirements(requirements: Iterable[str]) -> tuple[str, ...]:
    """Requirements the build adds, each checked as one PEP 508 line (named on error)."""
    from inferstack.runtime.errors import BundleError
    from inferstack.runtime.requirements import check_requirements

    lines = list(requirements)
    for line in lines:
        if "\n" in line or not line.strip():
            raise ImageError(f"build requirement {line!r}: expected one requirement")
    try:
        return check_requirements(lines, "build requirements")
    except ImportError as err:  # packaging comes with the runtime extra and with pulumi
        raise ImageError(
            "checking requirements needs the `packaging` library: pip install 'inferstack[runtime]'"
        ) from err
    except BundleError as err:
        raise ImageError(str(err)) from err


def image_requirements(
    manifest: Manifest, install: FrameworkInstall, gpu: bool, added: Sequence[str] = ()
) -> tuple[str, ...]:
    """Everything pip installs beside the extras, in order, without duplicates."""
    pin = saved_with_pin(manifest)
    wanted = [
        *install.requirements,
        *([flavoured(pin, gpu)] if pin else []),
        *(flavoured(r, gpu) for r in manifest.requirements),
        *(flavoured(r, gpu) for r in added),
    ]
    return tuple(dict.fromkeys(wanted))


def requirements_file(manifest: Manifest, requirements: Sequence[str]) -> str:
    """The text of the image's requirements file (comments say where it came from)."""
    header = (
        f"# pip requirements of the runtime image for {manifest.name} {manifest.version} "
        f"({manifest.framework}),\n# written by inferstack; installed with the extras in "
        "one resolve.\n"
    )
    return header + "".join(f"{line}\n" for line in requirements)
