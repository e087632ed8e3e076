"""Request ids: the caller's ``X-Request-Id`` when it is safe to echo, else a fresh one.

A generated id is a per-process prefix (random bits and the pid, drawn again in a
forked child) and a counter, in hex: unique across processes and restarts, and far
cheaper per request than a UUID.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets

__all__ = ["MAX_ID_CHARS", "RequestIds", "accept_id"]

MAX_ID_CHARS = 128
"""The longest caller-given request id kept; a longer one is replaced by a fresh id."""
_SAFE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,%d}" % MAX_ID_CHARS)  # noqa: UP031 - a regex


def accept_id(given: bytes | str | None) -> str | None:
    """``given`` when it is a short id of safe characters (no spaces, quotes or controls)."""
    if given is None:
        return None
    text = given.decode("latin-1") if isinstance(given, bytes) else given
    return text if _SAFE.fullmatch(text) else None


class RequestIds:
    """Generates request ids: ``<12 hex of random and pid>-<counter in hex>``."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self.prefix = f"{secrets.token_hex(4)}{os.getpid() & 0xFFFF:04x}"
        self._next = itertools.count(1).__next__

    def new(self) -> str:
        """A fresh id."""
        return f"{self.prefix}-{self._next():x}"

    def of(self, given: bytes | str | None) -> str:
        """The caller's id when acceptable, else a fresh one."""
        return accept_id(given) or self.new()
