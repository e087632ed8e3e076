"""The offline plan: run the real stack program under Pulumi's mock runtime.

`run_plan(stack)` reads `stacks/Pulumi.<stack>.yaml`, runs `stacks/__main__.py`
with that config against `PlanMocks`, and records every resource the program
declares (type, name, parent, inputs) and every stack output. Secrets are
masked. This is not `pulumi preview`: no engine, provider or cloud is involved.
`run_under_mocks(program)` does the same for any Python callable, with any mocks
(the moto mirror of `inferstack.components.testing` among them).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import os
import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inferstack.components.errors import DeployError
from inferstack.components.spec.config import find_project_root, read_stack_config

if TYPE_CHECKING:
    import pulumi

SECRET_MASK = "[secret]"  # noqa: S105 (a placeholder, not a password)
STACK_PROGRAM = "stacks/__main__.py"


@dataclass(frozen=True)
class PlannedResource:
    """One resource the stack program declared."""

    type: str
    name: str
    parent: str | None
    inputs: dict[str, Any]
    custom: bool
    urn: str
    raw_inputs: dict[str, Any] = field(default_factory=dict, repr=False)
    """The inputs as the engine received them, secrets still marked (for tests)."""
    ignore_changes: tuple[str, ...] = ()
    """Properties whose changes the engine would not act on."""

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "parent": self.parent, "inputs": self.inputs}


@dataclass
class Plan:
    """What the stack program declared, ordered by URN."""

    stack: str
    resources: list[PlannedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    result: Any = None
    """What the program returned, every Output in it resolved (secrets unwrapped)."""
    secret_results: frozenset[str] = frozenset()
    """Keys of a returned mapping whose values were secret Outputs."""

    def by_name(self) -> dict[str, PlannedResource]:
        """The resources keyed by logical name."""
        return {r.name: r for r in self.resources}

    def of_type(self, type_: str) -> list[PlannedResource]:
        """The resources whose type token is `type_`."""
        return [r for r in self.resources if r.type == type_]


class PlanError(DeployError):
    """The stack program failed under the mocks."""


def mask_secrets(value: Any) -> Any:
    """`value` with every Pulumi secret replaced by `[secret]`."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return SECRET_MASK
    if isinstance(value, dict):
        return {k: mask_secrets(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v) for v in value]
    if type(value).__module__.startswith("pulumi"):
        return repr(value)
    return value


def _recording_monitor(mocks: Any) -> Any:
    from pulumi.runtime import rpc
    from pulumi.runtime.mocks import MockMonitor

    class RecordingMonitor(MockMonitor):
        def __init__(self) -> None:
            super().__init__(mocks)
            self.records: list[tuple[Any, str, bool, dict]] = []

        def RegisterResource(self, request: Any) -> Any:  # noqa: N802 (gRPC name)
            response = super().RegisterResource(request)
            inputs = rpc.deserialize_properties(request.object)
            self.records.append((request, response.urn, bool(request.custom), inputs))
            if request.additionalSecretOutputs:
                response = _mark_secret_outputs(response, request.additionalSecretOutputs)
            return response

    return RecordingMonitor()


def _mark_secret_outputs(response: Any, names: Any) -> Any:
    """Do what the engine does for `additional_secret_outputs`: return them as secrets."""
    from pulumi.runtime import rpc
    from pulumi.runtime.proto import resource_pb2
    from pulumi.runtime.sync_await import _sync_await

    state = rpc.deserialize_properties(response.object)
    for name in names:
        if name in state and not rpc.is_rpc_secret(state[name]):
            state[name] = rpc.wrap_rpc_secret(state[name])
    obj = _sync_await(rpc.serialize_properties(state, {}, keep_output_values=False))
    return resource_pb2.RegisterResourceResponse(urn=response.urn, id=response.id, object=obj)


def _config_values(stack_config: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    values: dict[str, str] = {}
    secrets: list[str] = []
    for key, value in stack_config.items():
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[key] = "offline-plan-secret"
            secrets.append(key)
        elif isinstance(value, str):
            values[key] = value
        else:
            values[key] = json.dumps(value)
    return values, secrets


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_plan(stack: str, root: Path | None = None, program: Path | None = None) -> Plan:
    """Run the stack program for `stack` under the mocks and return what it declared."""
    root = find_project_root(root)
    config = read_stack_config(root, stack)
    path = program or root / STACK_PROGRAM

    def run_stack_program() -> None:
        with _working_dir(path.parent):
            runpy.run_path(str(path), run_name="__main__")

    return run_under_mocks(
        run_stack_program, stack=stack, project=_project_name(root), config=config
    )


def run_under_mocks(
    program: Callable[[], object],
    *,
    mocks: pulumi.runtime.Mocks | None = None,
    stack: str = "dev",
    project: str = "inferstack",
    config: dict[str, Any] | None = None,
) -> Plan:
    """Run any Pulumi `program` under `mocks` (default `PlanMocks`) and return what it
    declared, its stack outputs and its own return value.

    For tests, the offline plan, and users' own tests of code that builds inferstack
    components. Each run gets a fresh Pulumi context.
    """
    return contextvars.Context().run(_run, program, mocks, stack, project, config or {})


def _run(
    program: Callable[[], object],
    mocks: pulumi.runtime.Mocks | None,
    stack: str,
    project: str,
    config: dict[str, Any],
) -> Plan:
    import pulumi
    from pulumi.runtime.stack import run_pulumi_func
    from pulumi.runtime.sync_await import _ensure_event_loop

    from inferstack.components.plan.mocks import PlanMocks

    mocks = mocks or PlanMocks()
    monitor = _recording_monitor(mocks)
    errors = _ErrorLog()
    logger = logging.getLogger(f"inferstack.plan.{stack}")
    logger.addHandler(errors)
    logger.propagate = False
    values, secret_keys = _config_values(config)
    # Pulumi creates futures as soon as the mocks are set, so a loop must be current
    # (an earlier asyncio.run() leaves none). The loop and its executor threads are
    # reused across runs, as Pulumi itself does.
    loop = _ensure_event_loop()
    try:
        pulumi.runtime.set_all_config(values, secret_keys)
        pulumi.runtime.set_mocks(
            mocks, project=project, stack=stack, preview=False, monitor=monitor, logger=logger
        )
        returned: list[object] = []
        loop.run_until_complete(run_pulumi_func(lambda: returned.append(program())))
        outputs = _resolve_outputs(loop)
        result, secret_results = _resolve_result(loop, returned[0] if returned else None)
    except pulumi.RunError as err:
        raise PlanError(str(err)) from None
    finally:
        logger.removeHandler(errors)
    if errors.messages:
        raise PlanError("\n".join(errors.messages))
    return Plan(stack, _resources(monitor.records), outputs, result, secret_results)


def _resolve_result(loop: asyncio.AbstractEventLoop, value: object) -> tuple[Any, frozenset]:
    import pulumi

    secret = frozenset(
        key
        for key, item in (value.items() if isinstance(value, dict) else ())
        if isinstance(item, pulumi.Output) and loop.run_until_complete(item.is_secret())
    )
    return _resolved(loop, value), secret


def _resolved(loop: asyncio.AbstractEventLoop, value: Any) -> Any:
    import pulumi

    if isinstance(value, pulumi.Output):
        return _resolved(loop, loop.run_until_complete(value.future()))
    if isinstance(value, dict):
        return {k: _resolved(loop, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_resolved(loop, v) for v in value]
    return value


def _resolve_outputs(loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    import pulumi

    root_resource = pulumi.runtime.get_root_resource()
    outputs: dict[str, Any] = {}
    for key, value in getattr(root_resource, "outputs", {}).items():
        output = pulumi.Output.from_input(value)
        secret = loop.run_until_complete(output.is_secret())
        resolved = loop.run_until_complete(output.future())
        outputs[key] = SECRET_MASK if secret else mask_secrets(resolved)
    return outputs


def _resources(records: list[tuple[Any, str, bool, dict]]) -> list[PlannedResource]:
    names = {
        urn: request.name for request, urn, _, _ in records if request.type != "pulumi:pulumi:Stack"
    }
    # Registrations arrive from several threads; order by URN so plans are stable.
    return sorted(
        (
            PlannedResource(
                type=request.type,
                name=request.name,
                parent=names.get(request.parent),
                inputs=mask_secrets(inputs),
                custom=custom,
                urn=urn,
                raw_inputs=inputs,
                ignore_changes=tuple(request.ignoreChanges),
            )
            for request, urn, custom, inputs in records
            if request.type != "pulumi:pulumi:Stack"
        ),
        key=lambda r: r.urn,
    )


def _project_name(root: Path) -> str:
    import yaml

    return str((yaml.safe_load((root / "Pulumi.yaml").read_text()) or {}).get("name", "project"))


@contextlib.contextmanager
def _working_dir(path: Path):  # type: ignore[no-untyped-def]
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)
