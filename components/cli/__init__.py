"""The `inferstack` command line: one typer app, one way to print errors."""

from __future__ import annotations

from inferstack.components.cli.app import app, main

__all__ = ["app", "main"]
