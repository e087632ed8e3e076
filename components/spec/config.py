"""Reading the deployment spec from stack config, a YAML file or a mapping."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from inferstack.components.errors import CONFIG_KEY, SpecError, StackNotFoundError
from inferstack.components.spec.models import DeploymentSpec

PROJECT_FILE = "Pulumi.yaml"


def load_spec(data: Any, source: str = CONFIG_KEY) -> DeploymentSpec:
    """Validate `data` (a mapping from config or code) into a `DeploymentSpec`."""
    if not isinstance(data, Mapping):
        raise SpecError(
            [f"deployment: expected a mapping of settings, got {type(data).__name__}"], source
        )
    try:
        return DeploymentSpec.model_validate(dict(data))
    except ValidationError as err:
        raise SpecError.from_validation(err, source) from None


def spec_from_pulumi_config() -> DeploymentSpec:
    """The spec of the running stack, read from `inferstack:deployment`."""
    import pulumi

    data = pulumi.Config("inferstack").get_object("deployment")
    if data is None:
        raise SpecError([f"{CONFIG_KEY} is not set in this stack's config"], stack_source())
    return load_spec(data, stack_source())


def stack_source() -> str:
    """The running stack's config file name, to prefix spec errors with."""
    import pulumi

    return f"Pulumi.{pulumi.get_stack()}.yaml"


def find_project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` holding Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise StackNotFoundError(f"no {PROJECT_FILE} found in {here} or any parent folder")


def stack_config_dir(root: Path) -> Path:
    """Where the project keeps Pulumi.<stack>.yaml (its stackConfigDir)."""
    project = yaml.safe_load((root / PROJECT_FILE).read_text()) or {}
    return root / project.get("stackConfigDir", ".")


def stack_names(root: Path) -> list[str]:
    """The stacks that have a config file in the project."""
    return sorted(
        p.name[len("Pulumi.") : -len(".yaml")] for p in stack_config_dir(root).glob("Pulumi.*.yaml")
    )


def read_stack_config(root: Path, stack: str) -> dict[str, Any]:
    """The `config:` mapping of stack `stack`, as Pulumi would read it."""
    path = stack_config_dir(root) / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(stack_names(root)) or "none"
        raise StackNotFoundError(f"no stack {stack!r}: {path} does not exist (stacks: {known})")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        where = " ".join(str(err).split())  # PyYAML's message spans several lines
        raise SpecError([f"not valid YAML: {where}"], str(path.relative_to(root))) from None
    config = document.get("config", {}) if isinstance(document, dict) else None
    if not isinstance(config, dict):
        raise SpecError(["config: expected a mapping"], str(path.relative_to(root)))
    return config


def resolve_artifact(artifact: str, root: Path) -> str:
    """An artifact path made absolute against the project root; URIs unchanged."""
    if "://" in artifact:
        return artifact
    path = Path(artifact)
    return str(path if path.is_absolute() else (root / path).resolve())


def resolve_artifacts(spec: DeploymentSpec, root: Path) -> DeploymentSpec:
    """`spec` with the model's and every A/B variant's local artifact made absolute."""
    model = spec.model.model_copy(update={"artifact": resolve_artifact(spec.model.artifact, root)})
    variants = tuple(
        v.model_copy(update={"artifact": resolve_artifact(v.artifact, root)}) if v.artifact else v
        for v in spec.rollout.variants
    )
    rollout = spec.rollout.model_copy(update={"variants": variants})
    return spec.model_copy(update={"model": model, "rollout": rollout})


def check_local_bundle(spec: DeploymentSpec, source: str = CONFIG_KEY) -> None:
    """Refuse a local artifact that is not a bundle of the spec's framework and version.

    Runs before any resource is declared, on every target, so a typo in a path or a
    bundle of another model version never reaches an image build or an upload. A/B
    variants are checked too: each serves its `model_version`, from its own artifact
    or, without one, from the model's.
    """
    problems = _bundle_problems(
        spec.model.artifact, spec, spec.model.version, "deployment.model", ("framework", "version")
    )
    for i, variant in enumerate(spec.rollout.variants):
        where = f"deployment.rollout.variants.{i}"
        if variant.artifact:
            problems += _bundle_problems(
                variant.artifact, spec, variant.model_version, where, ("artifact", "model_version")
            )
        elif variant.model_version != spec.model.version and "://" not in spec.model.artifact:
            problems.append(
                f"{where}.model_version: {variant.model_version!r} differs from the model's "
                f"{spec.model.version!r}, whose bundle the variant would serve; give the "
                "variant its own artifact"
            )
    from inferstack.components.monitoring.quality_check import quality_metric_problem

    quality = quality_metric_problem(spec)
    if quality is not None:
        problems.append(quality)
    if problems:
        raise SpecError(problems, source)


def _bundle_problems(
    artifact: str, spec: DeploymentSpec, version: str, where: str, fields: tuple[str, str]
) -> list[str]:
    """What is wrong with `artifact` as the bundle of `spec`'s model at `version`;
    `fields` name the framework and version fields the lines blame under `where`."""
    from inferstack.runtime.errors import BundleError
    from inferstack.runtime.manifest import read_manifest

    if "://" in artifact:
        return []
    if not Path(artifact).is_dir():
        return [f"{where}.artifact: no bundle folder at {artifact}"]
    try:
        manifest = read_manifest(artifact)
    except BundleError as err:
        return [f"{where}.artifact: {err}"]
    problems = [
        f"{where}.{field}: {want!r} does not match the bundle's {have!r} ({artifact})"
        for field, want, have in (
            (fields[0], spec.model.framework, manifest.framework),
            (fields[1], version, manifest.version),
        )
        if want != have
    ]
    if spec.model.input_schema:
        bundle_features = list(zip(manifest.input.names, manifest.input.dtypes, strict=True))
        mismatch = _contract_mismatch(
            [(f.name, f.dtype) for f in spec.model.input_schema], bundle_features
        )
        if mismatch:
            problems.append(f"deployment.model.input_schema: {mismatch} ({artifact})")
    return problems


def _contract_mismatch(want: list[tuple[str, str]], have: list[tuple[str, str]]) -> str | None:
    """Where the spec's input contract and the bundle's features first differ, if they do."""
    for i, (wanted, found) in enumerate(zip(want, have, strict=False)):
        if wanted != found:
            return f"feature {i} is {wanted} in the spec but {found} in the bundle"
    if len(want) != len(have):
        return f"the spec lists {len(want)} features, the bundle {len(have)}"
    return None
