"""Whether a new bundle takes the requests the serving one takes: its input schema.

`promote` refuses a version whose input differs from the serving version's (unless
forced), and says which fields differ: a feature added, removed, moved or retyped, a
tensor shape, NaN handling or string categories.
"""

from __future__ import annotations

from pathlib import Path

from inferstack.components.errors import DeployError


class SchemaMismatchError(DeployError):
    """The new version's input schema differs from the serving one's."""

    def __init__(self, serving: str, new: str, differences: list[str]) -> None:
        self.differences = differences
        super().__init__(
            f"version {new}'s input schema differs from the serving {serving}'s: "
            + "; ".join(differences)
            + " (--force promotes anyway)"
        )


def read_input_schema(bundle: str | Path) -> object:
    """The `InputSchema` of the bundle folder `bundle` (its inferstack.yaml)."""
    from inferstack.runtime.errors import BundleError
    from inferstack.runtime.manifest import read_manifest

    try:
        return read_manifest(bundle).input
    except BundleError as err:
        raise DeployError(f"cannot read the input schema of {bundle}: {err}") from err


def input_differences(serving: object, new: object) -> list[str]:
    """The fields of input schema `new` that differ from `serving` (empty: compatible)."""
    from inferstack.runtime.manifest import InputSchema

    if not isinstance(serving, InputSchema) or not isinstance(new, InputSchema):
        raise TypeError("input_differences compares two InputSchema")
    out: list[str] = []
    old_types = dict(zip(serving.names, serving.dtypes, strict=True))
    new_types = dict(zip(new.names, new.dtypes, strict=True))
    removed = [n for n in old_types if n not in new_types]
    added = [n for n in new_types if n not in old_types]
    if removed:
        out.append(f"features removed: {', '.join(removed)}")
    if added:
        out.append(f"features added: {', '.join(added)}")
    out += [
        f"feature {n}: dtype {old_types[n]} -> {new_types[n]}"
        for n in old_types
        if n in new_types and old_types[n] != new_types[n]
    ]
    common_old = [n for n in serving.names if n in new_types]
    common_new = [n for n in new.names if n in old_types]
    if common_old != common_new:
        out.append("feature order changed")
    if serving.row_shape != new.row_shape and not (removed or added):
        out.append(f"shape {list(serving.row_shape)} -> {list(new.row_shape)}")
    if serving.allow_nan and not new.allow_nan:
        out.append("allow_nan true -> false (NaN inputs would be refused)")
    for name, values in (serving.categories or {}).items():
        new_values = (new.categories or {}).get(name)
        if new_values is not None and set(values) - set(new_values):
            lost = sorted(set(values) - set(new_values))
            out.append(f"feature {name}: categories no longer taken: {', '.join(lost)}")
    return out


def check_compatible(
    serving_bundle: str | Path, new_bundle: str | Path, serving: str, new: str
) -> None:
    """Raise SchemaMismatchError when `new_bundle` takes other inputs than `serving_bundle`."""
    differences = input_differences(
        read_input_schema(serving_bundle), read_input_schema(new_bundle)
    )
    if differences:
        raise SchemaMismatchError(serving, new, differences)
