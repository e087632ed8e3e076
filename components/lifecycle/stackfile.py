"""Round-trip edits of a stack's config file: change a few scalars, keep the rest.

`promote` and `rollback` write `model.version`, `model.artifact` and the rollout
weights into `stacks/Pulumi.<stack>.yaml`, so the next `pulumi up` agrees with what
serves. The file is the user's: its comments, order, quoting and blank lines stay as
they are. PyYAML's composer gives each node's place in the text, so an edit replaces
exactly one scalar's characters, or inserts one key line into an existing block
mapping; nothing is re-dumped. The file is replaced atomically, so an interrupted
write leaves the old file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from inferstack.components.errors import DeployError

Key = str | int
Scalar = str | int | float | bool
DEPLOYMENT = ("config", "inferstack:deployment")
INDENT = "  "


class StackFileError(DeployError):
    """The stack config cannot be edited as asked (a key path that is not a mapping)."""


def scalar_text(value: Scalar) -> str:
    """`value` as a plain YAML scalar (quoted only where YAML needs it)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=1_000).strip()
    return text.removesuffix("...").strip()


def _child(node: yaml.Node, key: Key) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode) and isinstance(key, str):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return v
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(key, int):
        return node.value[key] if 0 <= key < len(node.value) else None
    raise StackFileError(f"cannot look up {key!r} in a YAML {node.tag.rsplit(':', 1)[-1]}")


def _line_end(text: str, index: int) -> int:
    """The index just past the end of the line holding `index` (its newline included)."""
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _block(keys: Sequence[Key], value: Scalar | list[str], indent: str) -> str:
    """`keys` as nested block mappings at `indent`, ending in `value` (a scalar, or the
    lines of a block written under the last key)."""
    lines = []
    for depth, key in enumerate(keys[:-1]):
        lines.append(f"{indent}{INDENT * depth}{key}:")
    inner = f"{indent}{INDENT * (len(keys) - 1)}"
    if isinstance(value, list):
        lines.append(f"{inner}{keys[-1]}:")
        lines += [f"{inner}{INDENT}{line}" for line in value]
    else:
        lines.append(f"{inner}{keys[-1]}: {scalar_text(value)}")
    return "\n".join(lines) + "\n"


def _after(text: str, node: yaml.Node) -> int:
    """Where a line after `node` (and everything nested in it) starts."""
    # A block collection's end mark is the next token's start; its last scalar's is exact.
    while isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.value:
        node = node.value[-1][1] if isinstance(node, yaml.MappingNode) else node.value[-1]
    return _line_end(text, max(node.end_mark.index - 1, node.start_mark.index))


def _insert_at(text: str, at: int, block: str) -> str:
    if at == len(text) and not text.endswith("\n"):
        text += "\n"
        at += 1
    return text[:at] + block + text[at:]


def _insert(
    text: str, mapping: yaml.MappingNode, keys: Sequence[Key], value: Scalar | list[str]
) -> str:
    """`text` with `keys: value` added as the last entry of block mapping `mapping`."""
    if mapping.flow_style or not mapping.value:
        raise StackFileError(f"cannot add {'.'.join(map(str, keys))} to an inline mapping")
    if any(isinstance(k, int) for k in keys):
        raise StackFileError(f"cannot create the list item {'.'.join(map(str, keys))}")
    indent = " " * mapping.value[0][0].start_mark.column
    return _insert_at(text, _after(text, mapping), _block(keys, value, indent))


def item_lines(item: dict[str, Scalar]) -> list[str]:
    """A block sequence item of scalars: '- k: v' then '  k: v' lines."""
    lines = [f"{k}: {scalar_text(v)}" for k, v in item.items()]
    return [f"- {lines[0]}", *(f"  {line}" for line in lines[1:])]


def append_item(text: str, keys: Sequence[Key], item: dict[str, Scalar]) -> str:
    """`text` with `item` added at the end of the block sequence at `keys`, which is
    created (with the mappings above it) when missing."""
    node: yaml.Node | None = yaml.compose(text)
    if node is None:
        raise StackFileError("the stack config file is empty")
    for i, key in enumerate(keys):
        child = _child(node, key)
        if child is None:
            if not isinstance(node, yaml.MappingNode):
                raise StackFileError(f"{'.'.join(map(str, keys[: i + 1]))} does not exist")
            return _insert(text, node, keys[i:], item_lines(item))
        node = child
    if not isinstance(node, yaml.SequenceNode) or node.flow_style or not node.value:
        raise StackFileError(f"{'.'.join(map(str, keys))} is not a block list")
    first = node.value[0].start_mark
    line_start = text.rfind("\n", 0, first.index) + 1
    dash = text[line_start : first.index].rstrip()
    if not dash.endswith("-"):
        raise StackFileError(f"{'.'.join(map(str, keys))}: cannot find its items' indentation")
    indent = " " * (len(dash) - 1)
    block = "".join(f"{indent}{line}\n" for line in item_lines(item))
    return _insert_at(text, _after(text, node), block)


def set_scalar(text: str, keys: Sequence[Key], value: Scalar) -> str:
    """`text` with the scalar at `keys` set to `value` (added if its mapping lacks it)."""
    node: yaml.Node | None = yaml.compose(text)
    if node is None:
        raise StackFileError("the stack config file is empty")
    for i, key in enumerate(keys):
        child = _child(node, key)
        if child is None:
            if not isinstance(node, yaml.MappingNode):
                raise StackFileError(f"{'.'.join(map(str, keys[: i + 1]))} does not exist")
            return _insert(text, node, keys[i:], value)
        node = child
    if not isinstance(node, yaml.ScalarNode):
        raise StackFileError(f"{'.'.join(map(str, keys))} is not a single value")
    start, end = node.start_mark.index, node.end_mark.index
    return text[:start] + scalar_text(value) + text[end:]


def value_at(document: Any, keys: Sequence[Key]) -> Any:
    """The value at `keys` in parsed `document`, or None where a key is missing."""
    for key in keys:
        if isinstance(document, dict) and isinstance(key, str):
            document = document.get(key)
        elif isinstance(document, list) and isinstance(key, int) and 0 <= key < len(document):
            document = document[key]
        else:
            return None
    return document


class StackFile:
    """One `Pulumi.<stack>.yaml`: read, edited in memory, written back atomically."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.text = path.read_text()

    @property
    def deployment(self) -> dict[str, Any]:
        """The `inferstack:deployment` mapping as it stands (edits included)."""
        data = value_at(yaml.safe_load(self.text), DEPLOYMENT)
        if not isinstance(data, dict):
            raise StackFileError(f"{self.path.name}: inferstack:deployment is not a mapping")
        return data

    def set(self, keys: Sequence[Key], value: Scalar) -> None:
        """Set `deployment.<keys>` to `value`; checks that the result reads back."""
        path = (*DEPLOYMENT, *keys)
        text = set_scalar(self.text, path, value)
        if value_at(yaml.safe_load(text), path) != value:
            raise StackFileError(f"{self.path.name}: {'.'.join(map(str, keys))} did not take")
        self.text = text

    def set_weights(self, weights: dict[str, float], primary: str = "primary") -> None:
        """Write traffic weights by variant: `primary` is `rollout.primary_weight`, any
        other the weight of the `rollout.variants` entry of that name."""
        variants = value_at(self.deployment, ("rollout", "variants")) or []
        index = {v.get("name"): i for i, v in enumerate(variants) if isinstance(v, dict)}
        for variant, weight in weights.items():
            weight = round(float(weight), 4)
            if variant == primary:
                self.set(("rollout", "primary_weight"), weight)
            elif variant in index:
                self.set(("rollout", "variants", index[variant], "weight"), weight)
            else:
                raise StackFileError(
                    f"{self.path.name}: variant {variant!r} serves traffic but is not in "
                    "deployment.rollout.variants"
                )

    def append(self, keys: Sequence[Key], item: dict[str, Scalar]) -> None:
        """Add `item` to the list at `deployment.<keys>` (created when missing)."""
        path = (*DEPLOYMENT, *keys)
        text = append_item(self.text, path, item)
        found = value_at(yaml.safe_load(text), path)
        if not isinstance(found, list) or found[-1] != item:
            raise StackFileError(f"{self.path.name}: {'.'.join(map(str, keys))} did not take")
        self.text = text

    def save(self) -> None:
        """Replace the file with the edited text in one rename."""
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w") as out:
                out.write(self.text)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
