"""Fakes for testing Pulumi programs that use inferstack, yours included.

`MotoMocks` mirrors every AWS resource a program declares into moto, so a test
runs the program offline with `inferstack.components.plan.run_under_mocks` and
then reads the resources back with boto3. Needs the `testing` extra:
`pip install 'inferstack[testing]'`.
"""

from __future__ import annotations

import importlib.util

_NEEDS = ("boto3", "moto", "pulumi_aws")
_missing = [name for name in _NEEDS if importlib.util.find_spec(name) is None]
if _missing:
    raise ImportError(
        f"inferstack.components.testing needs {', '.join(_missing)}: "
        "pip install 'inferstack[testing]'",
        name=_missing[0],
    )

from inferstack.components.testing.aws import (  # noqa: E402 (after the check above)
    CALLS,
    MIRRORS,
    NOT_IN_MOTO,
    MotoMocks,
    MotoNotActiveError,
    run_program,
)

__all__ = [
    "CALLS",
    "MIRRORS",
    "NOT_IN_MOTO",
    "MotoMocks",
    "MotoNotActiveError",
    "run_program",
]
