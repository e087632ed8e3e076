"""The spec's reference, generated from the pydantic models (docs/spec.md).

Like terraform-docs for modules: the table is derived from the code, and a
test fails when docs/spec.md and the models disagree.
"""

from __future__ import annotations

import json
import types
import typing
from typing import Annotated

from pydantic import BaseModel, SerializeAsAny
from pydantic_core import PydanticUndefined

from inferstack.components.spec.models import DeploymentSpec
from inferstack.components.spec.options import TargetOptions
from inferstack.components.targets import all_targets

HEADER = (
    "# Deployment spec reference\n\n"
    "Generated from `components/spec/` and each target's `target.py` by "
    "`inferstack spec --format markdown`; do not edit by hand.\n"
    "Stack config holds it under `inferstack:deployment`; code builds it with "
    "`DeploymentSpec.model_validate({...})`.\n"
)


def _models(root: type[BaseModel]) -> list[tuple[str, type[BaseModel]]]:
    # `targets` maps each target's name to its own options model (from the registry);
    # each is walked like the root, so models nested in target options get tables too.
    roots = [("deployment", root)] + [
        (f"deployment.targets.{t.name}", t.options) for t in all_targets().values()
    ]
    seen: list[tuple[str, type[BaseModel]]] = []
    for start in roots:
        queue = [start]
        seen.append(start)
        for path, model in queue:
            for name, field in model.model_fields.items():
                for nested in _nested_models(field.annotation):
                    if nested is not TargetOptions and all(m is not nested for _, m in seen):
                        suffix = "[]" if typing.get_origin(field.annotation) is tuple else ""
                        found = (f"{path}.{name}{suffix}", nested)
                        seen.append(found)
                        queue.append(found)
    return seen


def _nested_models(annotation: object) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _nested_models(arg)]


def _type_name(annotation: object) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(annotation)[0])}"
    if annotation == dict[str, SerializeAsAny[TargetOptions]]:
        return "map of target name to its settings"
    if origin is dict:
        return "map of string"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(field: typing.Any) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{json.dumps(value)}`"


def render_markdown() -> str:
    """The reference of every spec model as Markdown tables."""
    parts = [HEADER]
    for path, model in _models(DeploymentSpec):
        parts.append(f"\n## `{path}` ({model.__name__})\n\n{(model.__doc__ or '').strip()}\n")
        parts.append("\n| field | type | default | description |\n|---|---|---|---|\n")
        for name, field in model.model_fields.items():
            parts.append(
                f"| `{name}` | {_type_name(field.annotation)} | {_default(field)} | "
                f"{field.description or ''} |\n"
            )
    return "".join(parts)
