"""`inferstack doctor` and `inferstack outputs`: what `make up` needs, and what it made.

`make up` runs `doctor --for-up --print-env --ports-of STACK` first, so a machine
without the Pulumi CLI or a running Docker engine, or with a host port the stack
publishes already taken, stops before anything is created, with the fix printed.
The Docker provider does not follow the Docker CLI's contexts (Colima, rootless
Docker, Podman): doctor resolves the active context's endpoint and prints the
`DOCKER_HOST` the provider needs, which the Makefile evaluates.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from inferstack.components.cli.output import console, err_console, fail
from inferstack.components.errors import CONFIG_KEY, DeployError

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


# Where the Docker provider looks for the engine when DOCKER_HOST is unset
# (pulumi-docker provider/image.go configureDockerClient: the default host, then the
# two per-user sockets of Docker Desktop); it does not read the CLI's contexts.
PROVIDER_SOCKETS = (
    "unix:///var/run/docker.sock",
    "unix://{home}/.docker/run/docker.sock",
    "unix://{home}/.docker/desktop/docker.sock",
)


@dataclass(frozen=True)
class Check:
    """One prerequisite and whether this machine meets it."""

    name: str
    ok: bool
    detail: str
    env: dict[str, str] = field(default_factory=dict)
    """Variables `make up` must export for Pulumi (printed by `--print-env`)."""


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


def _docker(*args: str) -> subprocess.CompletedProcess[str] | None:
    path = shutil.which("docker")
    if path is None:
        return None
    return subprocess.run([path, *args], capture_output=True, text=True, check=False, timeout=30)


def provider_sockets(home: Path | None = None) -> list[str]:
    """The endpoints the Docker provider tries when DOCKER_HOST is unset."""
    home = home or Path.home()
    return [s.format(home=home) for s in PROVIDER_SOCKETS]


def check_docker_endpoint(print_env: bool) -> Check:
    """The engine the Docker CLI talks to is one the Docker provider finds too.

    `docker info` follows the CLI's current context; the provider reads only
    DOCKER_HOST and a few fixed sockets. With another context active (Colima, rootless
    Docker, Podman), Pulumi needs DOCKER_HOST set to that context's endpoint.
    """
    name = "Docker endpoint for Pulumi"
    if os.environ.get("DOCKER_HOST"):
        return Check(name, True, f"DOCKER_HOST={os.environ['DOCKER_HOST']} (the provider reads it)")
    result = _docker("context", "inspect", "--format", "{{.Name}} {{.Endpoints.docker.Host}}")
    if result is None or result.returncode != 0 or not result.stdout.split():
        return Check(
            name, True, "no Docker context to follow; the provider uses its default socket"
        )
    context, _, endpoint = result.stdout.strip().partition(" ")
    if not endpoint or endpoint in provider_sockets():
        return Check(name, True, f"context {context}: {endpoint or 'default'}")
    how = f"export DOCKER_HOST={shlex.quote(endpoint)}"
    if print_env:
        detail = (
            f"context {context} is at {endpoint}, which the Docker provider does not find "
            f"by itself: make exports DOCKER_HOST for Pulumi (outside make: `{how}`)"
        )
        return Check(name, True, detail, {"DOCKER_HOST": endpoint})
    detail = (
        f"context {context} is at {endpoint}, which the Docker provider does not find by "
        f"itself (it reads DOCKER_HOST only): run `{how}` before `pulumi up`"
    )
    return Check(name, False, detail)


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # Without SO_REUSEADDR a port in TIME_WAIT would count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _publishing_container(port: int) -> tuple[str, str] | None:
    """(name, its dev.inferstack.endpoint label) of a container publishing `port`."""
    result = _docker(
        "ps",
        "--filter",
        f"publish={port}",
        "--format",
        '{{.Names}}\t{{.Label "dev.inferstack.endpoint"}}',
    )
    if result is None or result.returncode != 0 or not result.stdout.strip():
        return None
    name, _, label = result.stdout.strip().splitlines()[0].partition("\t")
    return name, label


def _is_own(holder: tuple[str, str], stack: str) -> bool:
    name, label = holder
    # Containers of earlier versions carry no label; their names start inferstack-.
    return label == stack or (not label and name.startswith("inferstack-"))


def stack_ports(stack: str, root: Path | None = None) -> list[tuple[int, str]]:
    """The host ports `stack` publishes with the setting that moves each; none when its
    target is not local. `DeployError` when its config cannot be read."""
    from inferstack.components.local.target import LocalOptions
    from inferstack.components.spec.config import find_project_root, load_spec, read_stack_config

    config = read_stack_config(find_project_root(root), stack)
    spec = load_spec(config.get(CONFIG_KEY), f"Pulumi.{stack}.yaml")
    if not isinstance(spec.options, LocalOptions):
        return []
    return spec.options.published(spec.observability.dashboard)


def check_ports(stack: str, root: Path | None = None) -> Check:
    """Every host port the local stack publishes is free on 127.0.0.1, or held by this
    stack's own container (which `pulumi up` updates or replaces, old one first)."""
    name = "Host ports"
    try:
        ports = stack_ports(stack, root)
    except DeployError as err:
        return Check(name, False, f"cannot read stack {stack}: {err}")
    if not ports:
        return Check(name, True, f"stack {stack} publishes none on this machine")
    taken, own = [], []
    for port, setting in ports:
        if not _port_taken(port):
            continue
        holder = _publishing_container(port)
        # Containers of earlier versions carry no label; their names start inferstack-.
        if holder and (
            holder[1] == stack or (not holder[1] and holder[0].startswith("inferstack-"))
        ):
            own.append(f"{port} ({holder[0]})")
            continue
        by = f"container {holder[0]}" if holder else "another process"
        taken.append(
            f"127.0.0.1:{port} is in use by {by}: stop it, or set {setting} in "
            f"stacks/Pulumi.{stack}.yaml (targets: local:) to a free port"
        )
    if taken:
        return Check(name, False, "; ".join(taken))
    listed = ", ".join(str(p) for p, _ in ports)
    detail = f"free on 127.0.0.1: {listed}"
    if own:
        detail += f" (held by this stack's containers: {', '.join(own)})"
    return Check(name, True, detail)


def doctor(
    for_up: Annotated[
        bool,
        typer.Option("--for-up", help="Check what `make up`/`make down` need; exit 1 if unmet."),
    ] = False,
    print_env: Annotated[
        bool,
        typer.Option(
            "--print-env",
            help="Print `export VAR=value` lines Pulumi needs (DOCKER_HOST) on stdout, "
            'the report on stderr: `eval "$(inferstack doctor --print-env)"`.',
        ),
    ] = False,
    ports_of: Annotated[
        str | None,
        typer.Option(
            "--ports-of",
            metavar="STACK",
            help="Also check that the host ports STACK publishes are free on 127.0.0.1.",
        ),
    ] = None,
) -> None:
    """Check this machine for what deploying needs: the Pulumi CLI, a Docker engine the
    Docker provider can reach, and free host ports."""
    out = err_console if print_env else console
    checks = [check_pulumi(), check_docker()]
    if checks[1].ok:
        checks.append(check_docker_endpoint(print_env))
        if ports_of:
            checks.append(check_ports(ports_of))
    _report(out, checks)
    missing = [c for c in checks if not c.ok]
    if missing and for_up:
        out.print("[bold red]make cannot continue; nothing was created or changed.[/] Fix:")
        for check in missing:
            out.print(f"  - {check.name}: {check.detail}", soft_wrap=True)
        raise typer.Exit(1)
    if print_env:
        for check in checks:
            for key, value in check.env.items():
                print(f"export {key}={shlex.quote(value)}")


def _report(out: Console, checks: list[Check]) -> None:
    table = Table("prerequisite", "status", "detail", title="inferstack doctor")
    for check in checks:
        table.add_row(check.name, "[green]ok[/]" if check.ok else "[red]missing[/]", check.detail)
    out.print(table)


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
