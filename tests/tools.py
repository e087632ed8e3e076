"""Programs the tests run that are not Python imports: checkov, actionlint, shellcheck.

`make test` installs them into `.venv-tools` (see `.ci/tools.txt`); a program on PATH
also does. In CI (`CI` set) a missing program fails the test; elsewhere it skips it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS_BIN = ROOT / ".venv-tools" / "bin"


def require_tool(name: str) -> str:
    """The path of program `name`, or fail (CI) / skip (elsewhere) naming how to get it."""
    path = TOOLS_BIN / name
    if path.is_file() and os.access(path, os.X_OK):
        return str(path)
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed (make venv-tools installs it from .ci/tools.txt)"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
