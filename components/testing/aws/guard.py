"""Refuse to call AWS unless moto is answering: a forgotten `mock_aws()` would
otherwise create real (and billed) resources with whatever credentials are around."""

from __future__ import annotations

from inferstack.components.errors import DeployError


class MotoNotActiveError(DeployError):
    """`MotoMocks` was used outside `moto.mock_aws()`."""


def require_moto() -> None:
    """Raise `MotoNotActiveError` unless a `moto.mock_aws()` is active."""
    if _moto_active() is False:
        raise MotoNotActiveError(
            "MotoMocks calls AWS only inside moto: wrap the run in `with moto.mock_aws():`"
        )


def _moto_active() -> bool | None:
    """Whether a moto mock is started; None when this moto cannot tell.

    moto has no public "is a mock active" query. `MockAWS` (and the server and proxy
    mode classes `mock_aws()` may return) count their nested starts in a class
    attribute; this is the one place that reads it. A moto without it is trusted.
    """
    from moto.core.models import MockAWS

    counts = [getattr(cls, "_nested_count", None) for cls in (MockAWS, *MockAWS.__subclasses__())]
    known = [count for count in counts if isinstance(count, int)]
    if not known:
        return None
    return any(count > 0 for count in known)
