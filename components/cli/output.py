"""How every `inferstack` command prints: results on stdout, errors on stderr as `error: ...`."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)

EXIT_FAILURE = 1
EXIT_USAGE = 2
"""A spec, option or bundle the user must change."""
EXIT_POLICY_VIOLATION = 3


def fail(message: str, code: int = EXIT_FAILURE) -> typer.Exit:
    """Print `message` as an error and return the Exit to raise."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)
