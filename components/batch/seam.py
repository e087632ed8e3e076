"""The per-target seam of `inferstack score --stack`: start a batch job and follow it.

`inferstack score BUNDLE INPUT` scores files on this machine (`runtime.scoring`). With
`--stack STACK` the same bundle runs where the stack runs: a SageMaker Batch Transform
job from the stack's model, an Azure ML batch endpoint on low-priority compute, or a
Kubernetes Job on the GKE spot pool. Each target provides a module
`inferstack.components.batch.<target>` with a function `for_stack(stack) ->
TargetBatch`; `batch_for` finds it, so adding a target edits no shared file.
Following a job (polling, progress, Ctrl-C) is the same for every target (`follow`).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from inferstack.components.errors import DeployError
from inferstack.components.spec.config import (
    find_project_root,
    load_spec,
    read_stack_config,
    stack_config_dir,
)
from inferstack.components.spec.models import DeploymentSpec

JobState = Literal["pending", "running", "succeeded", "failed", "stopped"]
FINAL_STATES: frozenset[JobState] = frozenset({"succeeded", "failed", "stopped"})


class BatchJobError(DeployError):
    """A batch job cannot be started or followed; the message says why and what to do."""


@dataclass(frozen=True)
class BatchStack:
    """A stack as a batch job sees it: its name, project folder, spec and config."""

    name: str
    root: Path
    spec: DeploymentSpec
    config: dict[str, object]


@dataclass(frozen=True)
class JobRequest:
    """What to score and where the results go (URIs of the target's object store)."""

    input_uri: str
    output_uri: str
    job_name: str | None = None
    """The job's name; a default derived from the stack and the time when None."""
    instance_count: int | None = None
    """Machines (or pods) to run on; the target's default when None."""
    instance_type: str | None = None
    """The machine type (VM size, node type); the stack's own when None."""


@dataclass(frozen=True)
class JobStatus:
    """Where a job is now."""

    job_id: str
    state: JobState
    message: str = ""
    """The platform's own words: a failure reason, the current phase."""
    done: int | None = None
    """Units finished (files, mini-batches, pods) when the platform reports them."""
    total: int | None = None
    output_uri: str = ""
    console_url: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def final(self) -> bool:
        """Whether the job has ended (succeeded, failed or stopped)."""
        return self.state in FINAL_STATES

    def as_json(self) -> dict[str, Any]:
        """The status as JSON-ready data."""
        return {**asdict(self), "final": self.final}


class TargetBatch(Protocol):
    """What a target offers `score --stack`."""

    target: str

    def submit(self, request: JobRequest) -> str:
        """Start a job; its id (the platform's job name)."""
        ...

    def status(self, job_id: str) -> JobStatus:
        """The job's state as the platform reports it now."""
        ...

    def stop(self, job_id: str) -> None:
        """Ask the platform to stop the job (Ctrl-C while following)."""
        ...


def open_batch_stack(stack: str, project: Path | None = None) -> BatchStack:
    """Stack `stack` of the project at `project` (default: the nearest with Pulumi.yaml)."""
    root = find_project_root(project)
    config = read_stack_config(root, stack)
    path = stack_config_dir(root) / f"Pulumi.{stack}.yaml"
    spec = load_spec(config.get("inferstack:deployment"), path.name)
    return BatchStack(stack, root, spec, config)


def batch_for(stack: BatchStack) -> TargetBatch:
    """The batch seam of `stack`'s target (module `inferstack.components.batch.<target>`)."""
    target = stack.spec.target
    try:
        module = importlib.import_module(f"inferstack.components.batch.{target}")
    except ModuleNotFoundError as err:
        if err.name != f"inferstack.components.batch.{target}":
            raise
        raise BatchJobError(
            f"stack {stack.name}: batch jobs are not available for the {target} target; "
            "score files on this machine with `inferstack score BUNDLE INPUT --out OUTPUT`"
        ) from err
    runner: TargetBatch = module.for_stack(stack)
    return runner


def follow(
    batch: TargetBatch,
    job_id: str,
    *,
    poll_s: float = 30.0,
    timeout_s: float | None = None,
    on_status: Callable[[JobStatus], None] = lambda _s: None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> JobStatus:
    """Poll `job_id` until it ends (or `timeout_s` passes: the last status, not final).

    Ctrl-C asks the platform to stop the job, then re-raises: the caller reports it.
    """
    start = clock()
    try:
        while True:
            found = batch.status(job_id)
            on_status(found)
            if found.final or (timeout_s is not None and clock() - start >= timeout_s):
                return found
            sleep(poll_s)
    except KeyboardInterrupt:
        batch.stop(job_id)
        raise
