"""Fakes for testing Pulumi programs that use inferstack, yours included.

`MotoMocks` mirrors every AWS resource a program declares into moto, so a test
runs the program offline with `inferstack.components.plan.run_under_mocks` and
then reads the resources back with boto3. Needs the `testing` extra:
`pip install 'inferstack[testing]'`.
"""

from __future__ import annotations

try:
    import boto3  # noqa: F401
    import moto  # noqa: F401
    import pulumi_aws  # noqa: F401
except ImportError as err:
    raise ImportError(
        f"inferstack.components.testing needs {err.name or 'boto3, moto and pulumi-aws'}: "
        "pip install 'inferstack[testing]'",
        name=err.name,
    ) from err

from inferstack.components.testing.aws import (
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
