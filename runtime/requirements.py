"""A bundle's declared pip requirements: read, checked (PEP 508) and written.

A requirements file here holds requirements only: blank lines and ``#`` comments are
skipped, pip options (``-r``, ``--index-url``, ``-e``) are refused because an image
build must not follow them out of the bundle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from inferstack.runtime.errors import BundleError

REQUIREMENTS_FILE = "requirements.txt"
"""The bundle's copy of its requirements, for ``pip install -r``."""


def read_requirements(
    source: str | Path | Sequence[str], where: str = "requirements"
) -> tuple[str, ...]:
    """Requirements from a file path or a list of lines, each checked; errors name the line.

    Returns them normalised (``Requirement``'s own spelling), in order, without duplicates.
    """
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise BundleError(f"{where}: '{path}' is not a file")
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise BundleError(f"{where}: cannot read '{path}': {err}") from err
        where = f"{where} '{path}'"
    else:
        lines = [str(line) for line in source]
    return check_requirements(lines, where)


def check_requirements(lines: Iterable[str], where: str = "requirements") -> tuple[str, ...]:
    """Parse each line with ``packaging``; a bad one is a ``BundleError`` naming its number."""
    from packaging.requirements import InvalidRequirement, Requirement

    out: list[str] = []
    for number, raw in enumerate(lines, start=1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        if line.startswith("-"):
            raise BundleError(
                f"{where} line {number}: pip options are not supported in a bundle: {line!r}"
            )
        try:
            req = str(Requirement(line))
        except InvalidRequirement as err:
            raise BundleError(
                f"{where} line {number}: {line!r} is not a requirement: {str(err).splitlines()[0]}"
            ) from err
        if req not in out:
            out.append(req)
    return tuple(out)


def requirement_name(requirement: str) -> str:
    """The canonical distribution name: ``Scikit_Learn>=1`` gives ``scikit-learn``."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    return str(canonicalize_name(Requirement(requirement).name))


def write_requirements(requirements: Sequence[str], bundle_dir: Path) -> Path | None:
    """Write ``requirements.txt`` into the bundle when there are any."""
    if not requirements:
        return None
    path = bundle_dir / REQUIREMENTS_FILE
    path.write_text("".join(f"{r}\n" for r in requirements), encoding="utf-8")
    return path
