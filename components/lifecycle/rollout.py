"""promote and rollback: the step plan, bake and alarm watch, and what the config says after.

Whatever happens (done, an alarm, an error, Ctrl-C), a promote ends in a state it can
name: the weights the endpoint reports, written to the stack config so the next
`pulumi up` keeps them. On an alarm or Ctrl-C it first returns traffic to the weights
it found. A target that cannot move traffic by itself (local) gets its config
rewritten and the result says that `pulumi up` must still run.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from inferstack.components.lifecycle.schema import check_compatible, read_input_schema
from inferstack.components.lifecycle.seam import LifecycleError, shares
from inferstack.components.lifecycle.stacks import Stack
from inferstack.components.spec.models import RolloutSpec

Outcome = Literal["promoted", "rolled_back", "interrupted", "config_only", "unchanged", "staged"]


@dataclass(frozen=True)
class Event:
    """Progress of a promote, for a progress bar."""

    kind: Literal["step", "bake", "alarm", "restore"]
    step: int
    steps: int
    percent: float
    baked_s: float = 0.0
    bake_s: float = 0.0
    message: str = ""


@dataclass
class Result:
    """How a promote or rollback ended, and what serves now."""

    outcome: Outcome
    version: str
    message: str
    weights: dict[str, float] = field(default_factory=dict)
    """Variant -> weight as the platform reports it at the end."""
    variants: dict[str, str] = field(default_factory=dict)
    """Variant -> version it serves."""
    steps_done: list[float] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    config_written: bool = False
    needs_pulumi_up: bool = False

    def as_json(self) -> dict[str, Any]:
        """The result as JSON-ready data."""
        return asdict(self)


def step_percents(rollout: RolloutSpec) -> list[float]:
    """The new version's traffic share after each step, in percent, ending at 100: the
    linear steps for `linear`, one step for `all_at_once`, else `canary_percent` first
    (`blue_green` too: the spec allows A/B variants only with blue_green or
    all_at_once, and a promote between variants should still start small)."""
    if rollout.strategy in {"canary", "blue_green"}:
        return [rollout.canary_percent, 100.0]
    if rollout.strategy == "linear":
        step, out = rollout.linear_step_percent, list[float]()
        while (len(out) + 1) * step < 100:
            out.append(round((len(out) + 1) * step, 6))
        return [*out, 100.0]
    return [100.0]


def check_steps(steps: list[float]) -> list[float]:
    """`steps` as a promote's plan: increasing percents in (0, 100], ending at 100."""
    if not steps or any(not 0 < s <= 100 for s in steps):
        raise LifecycleError(f"--steps: percents must lie in (0, 100], got {steps}")
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise LifecycleError(f"--steps: percents must increase, got {steps}")
    return steps if steps[-1] == 100 else [*steps, 100.0]


def version_key(version: str) -> tuple[int, ...]:
    """A sortable key of a semantic version's numbers ('1.10.0' after '1.9.2')."""
    return tuple(int(n) for n in re.findall(r"\d+", version.split("+")[0].split("-")[0])[:3])


def _weights_at(before: dict[str, float], new: str, percent: float) -> dict[str, float]:
    """`new` at `percent` of the traffic; the rest split as the others had it before."""
    others = {k: w for k, w in before.items() if k != new}
    rest = sum(others.values())
    share = percent / 100
    if rest <= 0:
        split = {k: (1 - share) / max(len(others), 1) for k in others}
    else:
        split = {k: (1 - share) * w / rest for k, w in others.items()}
    return {**split, new: share}


def _sync_config(stack: Stack, weights: dict[str, float]) -> bool:
    stack.file.set_weights(weights)
    stack.file.save()
    return True


def _check_schema(
    stack: Stack, serving_variant: str, serving: str, version: str, bundle: Path | None
) -> None:
    old = stack.artifact_of(serving_variant)
    if old is None or bundle is None:
        missing = serving if old is None else version
        raise LifecycleError(
            f"cannot compare input schemas: no local bundle of version {missing} "
            "(pass --bundle PATH for the new version, or --force to promote unchecked)"
        )
    check_compatible(old, bundle, serving, version)


Sleep = Callable[[float], None]
Report = Callable[[Event], None]


def _bake(stack: Stack, event: Event, sleep: Sleep, poll_s: float, report: Report) -> list[str]:
    """Watch the rollback alarms for the step's bake time; the ones that fired, if any."""
    bake = float(stack.spec.rollout.bake_time_s)
    baked = 0.0
    while True:
        firing = stack.lifecycle.firing_alarms()
        if firing or baked >= bake:
            return firing
        pause = min(poll_s, bake - baked)
        sleep(pause)
        baked += pause
        report(Event("bake", event.step, event.steps, event.percent, baked, bake))


def promote(
    stack: Stack,
    version: str,
    *,
    bundle: Path | None = None,
    force: bool = False,
    steps: list[float] | None = None,
    stage: bool = False,
    sleep: Sleep = time.sleep,
    poll_s: float = 15.0,
    report: Report = lambda _e: None,
) -> Result:
    """Shift `stack`'s traffic to `version` step by step (see the module docstring):
    `steps` percents, else the spec's canary or linear steps, else all at once; each
    step is watched for the spec's bake time."""
    life = stack.lifecycle
    if not life.shifts_traffic:
        return _promote_config(stack, version, bundle, force)
    variants = life.variants()
    candidates = [v for v, ver in variants.items() if ver == version]
    if not candidates and stage and bundle is not None:
        return _stage(stack, version, bundle, force)
    if not candidates:
        raise LifecycleError(
            f"version {version} is not deployed on stack {stack.name} (variants: "
            + ", ".join(f"{v}={ver}" for v, ver in variants.items())
            + f"); add it to deployment.rollout.variants with weight 0 in {stack.file.path.name}"
            " (or promote with --stage --bundle PATH), run `pulumi up`, then promote"
        )
    new = candidates[0]
    before = life.weights()
    serving_variant = max(before, key=lambda k: before[k])
    serving = variants[serving_variant]
    if shares(before).get(new, 0.0) >= 1.0:
        return Result(
            "unchanged", version, f"{version} already takes all traffic", before, variants
        )
    if not force:
        _check_schema(stack, serving_variant, serving, version, bundle or stack.artifact_of(new))
    steps = check_steps(steps) if steps else step_percents(stack.spec.rollout)
    done: list[float] = []
    try:
        for i, percent in enumerate(steps, 1):
            life.set_weights(_weights_at(before, new, percent))
            done.append(percent)
            event = Event("step", i, len(steps), percent)
            report(event)
            firing = _bake(stack, event, sleep, poll_s, report)
            if firing:
                report(Event("alarm", i, len(steps), percent, message=", ".join(firing)))
                now, _ = _restore(stack, before)
                return Result(
                    "rolled_back",
                    version,
                    f"alarm {', '.join(firing)} fired at {percent:g}%: traffic is back on "
                    f"{serving} ({_describe(now, variants)}); stack config matches",
                    now,
                    variants,
                    done,
                    firing,
                    True,
                )
        now = life.weights()
        _sync_config(stack, now)
    except KeyboardInterrupt:
        report(Event("restore", len(done), len(steps), done[-1] if done else 0.0))
        now, restored = _restore(stack, before)
        what = "traffic is back as it was" if restored else "restoring the old weights failed"
        return Result(
            "interrupted",
            version,
            f"interrupted after {len(done)} step(s): {what} ({_describe(now, variants)}); "
            + ("stack config matches" if now else "run `inferstack versions` to see what serves"),
            now,
            variants,
            done,
            [],
            bool(now),
        )
    except LifecycleError as err:
        now, restored = _restore(stack, before)
        what = "traffic is back as it was" if restored else "the old weights could not be restored"
        raise LifecycleError(
            f"{err}; promote stopped after {len(done)} step(s): {what} "
            f"({_describe(now, variants) or 'weights unknown'})"
        ) from err
    return Result(
        "promoted",
        version,
        f"{version} takes all traffic ({_describe(now, variants)})",
        now,
        variants,
        done,
        [],
        True,
    )


def _restore(stack: Stack, before: dict[str, float]) -> tuple[dict[str, float], bool]:
    """Traffic back to `before` where possible; the weights then served (empty when they
    cannot be read) and whether the restore went through. The config is written to
    match whatever was read."""
    life = stack.lifecycle
    restored = True
    try:
        life.set_weights(before)
    except (LifecycleError, KeyboardInterrupt):
        restored = False
    try:
        now = life.weights()
    except (LifecycleError, KeyboardInterrupt):
        return {}, False
    _sync_config(stack, now)
    return now, restored


def _describe(weights: dict[str, float], variants: dict[str, str]) -> str:
    return ", ".join(
        f"{v} ({variants.get(v, '?')}) {share:.0%}" for v, share in shares(weights).items()
    )


def _promote_config(stack: Stack, version: str, bundle: Path | None, force: bool) -> Result:
    """A target without traffic shifting: check, then point the stack config at `version`."""
    serving = stack.spec.model.version
    if bundle is None:
        raise LifecycleError(
            f"stack {stack.name} ({stack.spec.target}) builds its image from a bundle: "
            f"pass --bundle PATH with version {version}'s bundle"
        )
    _check_bundle_version(bundle, version)
    if not force:
        old = stack.artifact_of("primary")
        if old is None:
            raise LifecycleError(
                f"cannot compare input schemas: no local bundle of version {serving} "
                "(--force promotes unchecked)"
            )
        check_compatible(old, bundle, serving, version)
    return _point_config(stack, version, bundle, "config_only")


def _stage(stack: Stack, version: str, bundle: Path, force: bool) -> Result:
    """Add `version` as a weight-0 variant to the stack config, for `pulumi up` to deploy."""
    from inferstack.components.spec.config import load_spec

    _check_bundle_version(bundle, version)
    if not force:
        old = stack.artifact_of("primary")
        if old is None:
            raise LifecycleError(
                f"cannot compare input schemas: no local bundle of version "
                f"{stack.spec.model.version} (--force stages unchecked)"
            )
        check_compatible(old, bundle, stack.spec.model.version, version)
    taken = {v.name for v in stack.spec.rollout.variants}
    name = next(
        n for n in ("candidate", *(f"candidate-{i}" for i in range(2, 100))) if n not in taken
    )
    stack.file.append(
        ("rollout", "variants"),
        {"name": name, "model_version": version, "artifact": _relative(stack, bundle), "weight": 0},
    )
    note = ""
    if stack.spec.rollout.strategy in {"canary", "linear"}:
        stack.file.set(("rollout", "strategy"), "blue_green")
        note = (
            f"; rollout.strategy {stack.spec.rollout.strategy} -> blue_green (the spec allows "
            "A/B variants only with blue_green or all_at_once; promote still shifts in steps)"
        )
    load_spec(stack.file.deployment, stack.file.path.name)  # the result must be a valid spec
    stack.file.save()
    return Result(
        "staged",
        version,
        f"{stack.file.path.name}: variant {name} serves {version} with weight 0 once "
        f"`pulumi up -s {stack.name}` deploys it; then `inferstack promote {stack.name} "
        f"{version}`{note}",
        config_written=True,
        needs_pulumi_up=True,
    )


def _relative(stack: Stack, bundle: Path) -> str:
    """`bundle` relative to the project root when inside it (as stack configs name them)."""
    artifact = bundle.resolve()
    with contextlib.suppress(ValueError):
        artifact = artifact.relative_to(stack.root.resolve())
    return str(artifact)


def _check_bundle_version(bundle: Path, version: str) -> None:
    from inferstack.runtime.manifest import read_manifest

    read_input_schema(bundle)  # a readable bundle, or a clear error
    found = read_manifest(bundle).version
    if found != version:
        raise LifecycleError(f"the bundle at {bundle} is version {found}, not {version}")


def _point_config(stack: Stack, version: str, bundle: Path, outcome: Outcome) -> Result:
    artifact = _relative(stack, bundle)
    stack.file.set(("model", "version"), version)
    stack.file.set(("model", "artifact"), artifact)
    stack.file.save()
    return Result(
        outcome,
        version,
        f"{stack.file.path.name} now names {version} ({artifact}); what runs is unchanged "
        f"until `pulumi up -s {stack.name}` replaces the container",
        config_written=True,
        needs_pulumi_up=True,
    )


def rollback(
    stack: Stack,
    to: str | None = None,
    *,
    bundle: Path | None = None,
    report: Report = lambda _e: None,
) -> Result:
    """Return `stack` to the version before the serving one (or to `to`)."""
    life = stack.lifecycle
    if not life.shifts_traffic:
        if bundle is None:
            raise LifecycleError(
                f"stack {stack.name} ({stack.spec.target}) builds its image from a bundle: pass "
                "--bundle PATH with the bundle of the version to return to"
            )
        from inferstack.runtime.manifest import read_manifest

        target = to or read_manifest(bundle).version
        _check_bundle_version(bundle, target)
        return _point_config(stack, target, bundle, "rolled_back")
    variants = life.variants()
    before = life.weights()
    serving_variant = max(before, key=lambda k: before[k])
    serving = variants[serving_variant]
    if to is None:
        older = sorted(
            {ver for ver in variants.values() if version_key(ver) < version_key(serving)},
            key=version_key,
        )
        if not older:
            raise LifecycleError(
                f"no version older than the serving {serving} is deployed on stack "
                f"{stack.name} (variants: {_describe(before, variants)}); name one with --to"
            )
        to = older[-1]
    chosen = [v for v, ver in variants.items() if ver == to]
    if not chosen:
        raise LifecycleError(
            f"version {to} is not deployed on stack {stack.name}, so there is no fast rollback: "
            f"set deployment.model.version (and artifact) to it and run `pulumi up`"
        )
    weights = {v: (1.0 if v == chosen[0] else 0.0) for v in before}
    report(Event("step", 1, 1, 100.0))
    life.set_weights(weights)
    now = life.weights()
    return Result(
        "rolled_back",
        to,
        f"{to} takes all traffic again ({_describe(now, variants)}); stack config matches",
        now,
        variants,
        [100.0],
        [],
        _sync_config(stack, now),
    )
