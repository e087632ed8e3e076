"""JSON log lines on stderr: one object per line, with any ``extra`` fields.

Model libraries speak too: Python warnings (scikit-learn's "X does not have valid
feature names", FutureWarnings, XGBoost's native warnings) and LightGBM's logger.
They become JSON records, each kind (category and message text) once per process,
since the same warning on every request would drown the log.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import warnings
from typing import Any, TextIO

import orjson

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            # Cloud Logging (GKE) files a JSON line at the level its `severity` names.
            "severity": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and value is not None:
                data[key] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(data, default=str).decode()


MAX_FIELD = 256
"""Characters of a client-controlled value (a path, an error message) kept in a log line."""


def clip(text: str, limit: int = MAX_FIELD) -> str:
    """``text`` cut to ``limit`` characters, saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}...[{len(text) - limit} more]"


def configure_logging(level: str = "info") -> None:
    """Send ``inferstack`` and ``uvicorn`` logs as JSON to stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for name in ("inferstack", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
    capture_warnings()


MAX_KINDS = 256
"""Distinct warning kinds logged per process; past it, one record says the rest are dropped."""


class Once:
    """Remembers kinds seen; ``first(kind)`` is true only the first time (thread-safe)."""

    def __init__(self, limit: int = MAX_KINDS) -> None:
        self.limit = limit
        self.seen: set[tuple[str, str]] = set()
        self.full = False
        self._lock = threading.Lock()

    def first(self, kind: tuple[str, str]) -> bool:
        """True the first time ``kind`` is seen and there is room to remember it."""
        with self._lock:
            if kind in self.seen or self.full:
                return False
            if len(self.seen) < self.limit:
                self.seen.add(kind)
                return True
            self.full = True
        _WARNINGS.warning("more than %d kinds of library warnings; dropping the rest", self.limit)
        return False


class OnceFilter(logging.Filter):
    """Lets each (level, message) of a library logger through once."""

    def __init__(self, once: Once) -> None:
        super().__init__()
        self.once = once

    def filter(self, record: logging.LogRecord) -> bool:
        return self.once.first((record.levelname, record.getMessage()))


_WARNINGS = logging.getLogger("inferstack.runtime.warnings")
_ONCE = Once()


def show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` replacement: a JSON record, once per category and text."""
    text = str(message)
    if _ONCE.first((category.__name__, text)):
        _WARNINGS.warning(
            text, extra={"category": category.__name__, "source": f"{filename}:{lineno}"}
        )


def library_logger(library: str) -> logging.Logger:
    """A logger for a model library's own messages (JSON, each message once)."""
    logger = logging.getLogger(f"inferstack.runtime.{library}")
    if not any(isinstance(f, OnceFilter) for f in logger.filters):
        logger.addFilter(OnceFilter(_ONCE))
    return logger


def capture_warnings() -> None:
    """Route Python warnings to the JSON log instead of raw lines on stderr."""
    warnings.showwarning = show_warning
