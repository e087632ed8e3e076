"""Composed models: a bundle whose model is a pipeline or an ensemble of other bundles.

A composed bundle is a ``custom`` bundle whose predictor is ``ComposedPredictor``;
its parts are whole bundles copied under ``parts/<name>/`` (each loaded with
``load_bundle``: its own files checked against its own digests, its probe run), and
``composition.yaml`` says how they join:

- ``pipeline``: each part's outputs are the next part's input rows, checked by the
  next part's schema (so an encoder's outputs must fit its classifier's features);
- ``mean`` / ``weighted_mean``: the members' outputs averaged (``weights`` in order);
- ``vote``: the most frequent of the members' labels per row (ties: the first member's);
- ``stacking``: the members' outputs side by side are the rows of the ``stacker`` part.

``compose`` builds one from part bundles; the served model is one bundle on every
route. Each part's latency is observed through ``observe_step`` when the server sets
it (``inferstack_step_duration_seconds{step}``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from inferstack.runtime.errors import BundleError, PredictionError
from inferstack.runtime.integrity import file_digests
from inferstack.runtime.manifest import Manifest, OutputSchema, read_manifest, write_manifest
from inferstack.runtime.model import ServedModel, check_probe, load_bundle

COMPOSITION_FILE = "composition.yaml"
PARTS = "parts"
PREDICTOR = "inferstack.runtime.composed:ComposedPredictor"
Kind = Literal["pipeline", "mean", "weighted_mean", "vote", "stacking"]


class Composition(BaseModel):
    """``composition.yaml``: how the parts join."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    parts: tuple[str, ...] = Field(min_length=1)
    """Part names, in order (folders under ``parts/``)."""
    weights: tuple[float, ...] | None = None
    stacker: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Composition:
        if len(set(self.parts)) != len(self.parts):
            raise ValueError("part names must be distinct")
        if (self.kind == "weighted_mean") != (self.weights is not None):
            raise ValueError("weights go with weighted_mean, and only with it")
        if self.weights is not None and len(self.weights) != len(self.parts):
            raise ValueError(f"{len(self.weights)} weights for {len(self.parts)} parts")
        if (self.kind == "stacking") != (self.stacker is not None):
            raise ValueError("a stacker goes with stacking, and only with it")
        if self.kind == "pipeline" and len(self.parts) < 2:
            raise ValueError("a pipeline needs at least two parts")
        return self


def read_composition(bundle_dir: Path) -> Composition:
    """Read and check ``composition.yaml``."""
    path = bundle_dir / COMPOSITION_FILE
    try:
        return Composition.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as err:
        raise BundleError(f"{COMPOSITION_FILE}: {err}") from err


class ComposedPredictor:
    """Runs a composition of loaded part bundles as one model."""

    observe_step: Callable[[str, float], None] | None = None

    def load(self, bundle_dir: Path) -> None:
        """Load every part (and the stacker) with the server's loader."""
        self.composition = read_composition(bundle_dir)
        names = [*self.composition.parts]
        if self.composition.stacker is not None:
            names.append(self.composition.stacker)
        self.parts: dict[str, ServedModel] = {
            n: load_bundle(bundle_dir / PARTS / n) for n in dict.fromkeys(names)
        }

    def _run(self, name: str, batch: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        out = np.asarray(self.parts[name].run(batch))
        hook = self.observe_step
        if hook is not None:
            hook(name, time.perf_counter() - start)
        return out

    def _rows_for(self, name: str, out: np.ndarray) -> np.ndarray:
        """Outputs as the next part's input rows, checked by its schema."""
        try:
            return self.parts[name].decoder.from_array(out.reshape(len(out), -1), name)
        except Exception as err:
            raise PredictionError(f"part '{name}' cannot take the previous outputs: {err}") from err

    def predict(self, batch: np.ndarray) -> Any:
        """The composition's outputs for a validated batch."""
        c = self.composition
        if c.kind == "pipeline":
            out = self._run(c.parts[0], batch)
            for name in c.parts[1:]:
                out = self._run(name, self._rows_for(name, out))
            return out
        outs = [self._run(name, batch) for name in c.parts]
        if c.kind == "mean":
            return np.mean(np.stack(outs), axis=0)
        if c.kind == "weighted_mean":
            w = np.asarray(c.weights, dtype=np.float64)
            return np.tensordot(w / w.sum(), np.stack(outs), axes=1)
        if c.kind == "vote":
            return _vote(outs)
        assert c.stacker is not None
        side_by_side = np.hstack([o.reshape(len(o), -1) for o in outs])
        return self._run(c.stacker, self._rows_for(c.stacker, side_by_side))


def _vote(outs: list[np.ndarray]) -> np.ndarray:
    labels = np.stack([o.reshape(len(o)) for o in outs], axis=1)
    winners = []
    for row in labels:
        values, counts = np.unique(row, return_counts=True)
        best = counts.max()
        winners.append(next(v for v in row if counts[list(values).index(v)] == best))
    return np.asarray(winners, dtype=labels.dtype)


def compose(
    kind: Kind,
    parts: dict[str, str | Path],
    *,
    name: str,
    version: str,
    out: str | Path,
    weights: Sequence[float] | None = None,
    stacker: tuple[str, str | Path] | None = None,
    output: OutputSchema | None = None,
    overwrite: bool = False,
) -> Path:
    """Write a composed bundle of the part bundles ``parts`` (name -> folder) to ``out``.

    The input schema is the first part's (every ensemble member must have the same);
    the output schema is the last pipeline part's, the stacker's, or the members' unless
    ``output`` says otherwise. The bundle is loaded and probed before it is kept.
    Raises ``BundleError`` naming the problem.
    """
    manifests = {n: read_manifest(p) for n, p in parts.items()}
    first = next(iter(manifests.values()))
    if kind != "pipeline":
        other = next((n for n, m in manifests.items() if m.input != first.input), None)
        if other is not None:
            raise BundleError(f"ensemble member '{other}' takes other inputs than the first")
    try:
        composition = Composition(
            kind=kind,
            parts=tuple(parts),
            weights=tuple(weights) if weights is not None else None,
            stacker=stacker[0] if stacker else None,
        )
    except ValidationError as err:
        problems = "; ".join(e["msg"] for e in err.errors())
        raise BundleError(f"composition: {problems}") from err
    last = read_manifest(stacker[1]) if stacker else list(manifests.values())[-1]
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise BundleError(f"output directory '{out}' is not empty (use overwrite)")
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".compose-", dir=out.parent))
    try:
        for part, folder in [*parts.items(), *([stacker] if stacker else [])]:
            shutil.copytree(folder, work / PARTS / part)
        (work / COMPOSITION_FILE).write_text(
            yaml.safe_dump(composition.model_dump(mode="json", exclude_none=True), sort_keys=False)
        )
        manifest = Manifest(
            name=name,
            version=version,
            framework="custom",
            predictor=PREDICTOR,
            description=f"{kind} of {', '.join(parts)}",
            input=first.input,
            output=output or (last.output if kind != "vote" else OutputSchema(kind="label")),
            digests=file_digests(work),
        )
        write_manifest(manifest, work)
        try:
            check_probe(load_bundle(work))  # a custom bundle skips the probe at load
        except PredictionError as err:
            raise BundleError(f"the composed model does not run: {err.message}") from err
        if out.exists():
            shutil.rmtree(out)
        work.rename(out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return out


__all__ = ["COMPOSITION_FILE", "ComposedPredictor", "Composition", "compose", "read_composition"]
