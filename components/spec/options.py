"""The base of every target's settings model (`targets.<target>:` in the spec)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class TargetOptions(BaseModel):
    """Settings only one target reads; each target subclasses it in its `target.py`."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class CloudTargetOptions(TargetOptions):
    """Settings of a target that runs on instances of a type it names."""

    instance_type: str | None = Field(
        None, description="Instance (or node machine) type, replacing the default for the GPU kind."
    )
