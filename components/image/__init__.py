"""The runtime image of a bundle: its build context, source tree, build and component.

`context`, `source` and `build` need no Pulumi; `RuntimeImage` (the component) loads
pulumi-docker on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["RuntimeImage", "RuntimeImageArgs"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("inferstack.components.image.component"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
