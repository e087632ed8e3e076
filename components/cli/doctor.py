"""`inferstack doctor` and `inferstack outputs`: what `make up` needs, and what it made.

`make up` runs `doctor --for-up` first, so a machine without the Pulumi CLI or
a running Docker engine stops before anything is created, with the install
steps printed.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.table import Table

from inferstack.components.cli.output import console, fail

PULUMI_INSTALL = (
    "install the Pulumi CLI: `curl -fsSL https://get.pulumi.com | sh` "
    "(or `brew install pulumi/tap/pulumi`), then open a new shell so `pulumi` is on PATH"
)
DOCKER_INSTALL = (
    "install Docker (https://docs.docker.com/engine/install/, or `apt-get install docker.io`) "
    "and start the engine (`sudo systemctl start docker`, or Docker Desktop)"
)

# The Makefile's public default passphrase for STACK=local (LOCAL_PASSPHRASE).
LOCAL_PASSPHRASE = "inferstack-local"  # noqa: S105  (public, like the Makefile's)


@dataclass(frozen=True)
class Check:
    """One prerequisite and whether this machine meets it."""

    name: str
    ok: bool
    detail: str


def check_pulumi() -> Check:
    """The Pulumi CLI is on PATH and answers."""
    path = shutil.which("pulumi")
    if path is None:
        return Check("Pulumi CLI", False, f"`pulumi` not found on PATH: {PULUMI_INSTALL}")
    result = subprocess.run([path, "version"], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return Check("Pulumi CLI", False, f"`pulumi version` failed: {result.stderr.strip()}")
    return Check("Pulumi CLI", True, result.stdout.strip())


def check_docker() -> Check:
    """The Docker client is on PATH and its engine is running."""
    path = shutil.which("docker")
    if path is None:
        return Check("Docker engine", False, f"`docker` not found on PATH: {DOCKER_INSTALL}")
    result = subprocess.run(
        [path, "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if result.returncode != 0 or not result.stdout.strip():
        reason = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        return Check(
            "Docker engine", False, f"the Docker engine is not running ({reason}): {DOCKER_INSTALL}"
        )
    return Check("Docker engine", True, f"server {result.stdout.strip()}")


def doctor(
    for_up: Annotated[
        bool,
        typer.Option("--for-up", help="Check what `make up`/`make down` need; exit 1 if unmet."),
    ] = False,
) -> None:
    """Check this machine for what deploying needs: the Pulumi CLI and a Docker engine."""
    checks = [check_pulumi(), check_docker()]
    table = Table("prerequisite", "status", "detail", title="inferstack doctor")
    for check in checks:
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]missing[/]", check.detail)
    console.print(table)
    missing = [c for c in checks if not c.ok]
    if missing and for_up:
        console.print("[bold red]make cannot continue; nothing was created or changed.[/] Fix:")
        for check in missing:
            console.print(f"  - {check.name}: {check.detail}", soft_wrap=True)
        raise typer.Exit(1)


def read_key_command(stack: str) -> str:
    """A shell command that prints the stack's API key, runnable outside `make`.

    `make up` gives Pulumi a file backend and (for the local stack) a passphrase in its
    own environment only; a plain `pulumi stack output` in the user's shell would look
    for the stack in another backend. Both are spelled out, except a passphrase other
    than the public local default, which is never printed.
    """
    env = []
    backend = os.environ.get("PULUMI_BACKEND_URL")
    if backend:
        env.append(f"PULUMI_BACKEND_URL={shlex.quote(backend)}")
    if os.environ.get("PULUMI_CONFIG_PASSPHRASE") == LOCAL_PASSPHRASE:
        env.append(f"PULUMI_CONFIG_PASSPHRASE={LOCAL_PASSPHRASE}")
    command = f"pulumi stack output api_key --show-secrets --stack {shlex.quote(stack)}"
    return " ".join([*env, command])


def outputs(
    stack: Annotated[str, typer.Argument(help="Stack whose outputs to show.")] = "local",
) -> None:
    """Show a deployed stack's endpoint, how to read its API key, and a curl to try it."""
    pulumi_check = check_pulumi()
    if not pulumi_check.ok:
        raise fail(f"cannot read outputs of stack {stack}: {pulumi_check.detail}")
    result = subprocess.run(
        ["pulumi", "stack", "output", "--json", "--stack", stack],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise fail(f"cannot read outputs of stack {stack}: {result.stderr.strip()}")
    values = json.loads(result.stdout or "{}")
    url = values.get("endpoint_url", "")
    console.print(f"[bold green]Deployed stack {stack}[/]")
    console.print(f"  endpoint:  {url}")
    console.print(f"  dashboard: {values.get('dashboard_url') or 'none'}")
    key = read_key_command(stack)
    console.print(f"  API key:   {key}", soft_wrap=True, highlight=False, markup=False)
    console.print("Try it:")
    console.print(
        f'  curl -s -H "X-Api-Key: $({key})"'
        f" -H 'Content-Type: application/json' -d @examples/logreg-20f/request.json "
        f"{url}/invocations",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add `doctor` and `outputs` to the CLI."""
    app.command()(doctor)
    app.command()(outputs)
