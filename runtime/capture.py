"""Sampled data capture: requests and their outputs as JSON lines."""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path
from typing import Any

import orjson

__all__ = ["Capture"]


class Capture:
    """Appends sampled requests (inputs and outputs) as JSON lines under ``directory``."""

    def __init__(self, directory: str | Path, sample_rate: float, model: str, version: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sample_rate = sample_rate
        self.model = model
        self.version = version
        self._lock = threading.Lock()

    def sample(self) -> bool:
        """Whether to capture the next request."""
        return self.sample_rate > 0 and random.random() < self.sample_rate  # noqa: S311

    @property
    def path(self) -> Path:
        """Today's file for this process."""
        day = time.strftime("%Y%m%d", time.gmtime())
        return self.directory / f"{self.model}-{self.version}-{day}-{os.getpid()}.jsonl"

    @property
    def explanations_path(self) -> Path:
        """Today's audit trail of explanations for this process, beside the captures."""
        return self.path.with_suffix(".explanations.jsonl")

    def write(self, records: list[dict[str, Any]], path: Path | None = None) -> None:
        """Append records, one JSON object per line (to ``path``, else today's file)."""
        data = b"".join(orjson.dumps(r, option=orjson.OPT_SERIALIZE_NUMPY) + b"\n" for r in records)
        with self._lock, (path or self.path).open("ab") as fh:
            fh.write(data)
