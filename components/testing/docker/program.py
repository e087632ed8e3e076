"""Run the project's stack program (`stacks/__main__.py`) under any mocks, with a
stack config the test chose (the docker mirror's test runs the `local` stack's
config under another stack name and other host ports)."""

from __future__ import annotations

import contextlib
import os
import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import yaml

from inferstack.components.plan.run import STACK_PROGRAM, Plan, run_under_mocks


@contextlib.contextmanager
def _working_dir(path: Path) -> Iterator[None]:
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def run_stack(root: Path, stack: str, config: dict[str, Any], mocks: pulumi.runtime.Mocks) -> Plan:
    """Run `root`'s stack program as stack `stack` with `config` under `mocks`, from the
    program's folder as `pulumi up` does; the plan of what it declared."""
    program = root / STACK_PROGRAM
    project = str((yaml.safe_load((root / "Pulumi.yaml").read_text()) or {}).get("name"))

    def run() -> None:
        runpy.run_path(str(program), run_name="__main__")

    # The whole run, not only the program: registrations finish after it returns, and
    # the mirror resolves declared relative paths (build contexts) as the provider does,
    # from the program's folder.
    with _working_dir(program.parent):
        return run_under_mocks(run, mocks=mocks, stack=stack, project=project, config=config)
