"""Refactors must not change what a stack deploys.

Each fixture is the resource list (type, name, parent) that `inferstack plan` gave for a
stack when it was recorded. A difference means a deployed stack would replace, add or
delete resources on its next `pulumi up`: when that is intended, re-record the fixture in
the same change (`python -m tests.components.test_plan_equivalence`) and say why.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from inferstack.components.plan.run import run_plan

FIXTURES = Path(__file__).parent / "fixtures" / "plans"
STACKS = sorted(p.stem for p in FIXTURES.glob("*.json"))


# An image resource is named after the content hash of the runtime's source tree, so any
# source change builds a new image by design; the hash is not part of the comparison.
_CONTENT_HASH = re.compile(r"-[0-9a-f]{12}$")


def resource_list(stack: str, root: Path | None = None) -> list[list[str | None]]:
    """The plan of `stack` as sorted [type, name, parent] rows."""
    plan = run_plan(stack, root)
    return sorted(
        [r.type, _CONTENT_HASH.sub("-<content-hash>", r.name), r.parent] for r in plan.resources
    )


def test_every_recorded_stack_exists(project_root: Path) -> None:
    assert STACKS, "no recorded plans"
    for stack in STACKS:
        assert (project_root / "stacks" / f"Pulumi.{stack}.yaml").is_file(), stack


@pytest.mark.parametrize("stack", STACKS)
def test_plan_matches_the_recorded_resources(stack: str, project_root: Path) -> None:
    recorded = json.loads((FIXTURES / f"{stack}.json").read_text())
    planned = resource_list(stack, project_root)
    added = [row for row in planned if row not in recorded]
    removed = [row for row in recorded if row not in planned]
    assert (added, removed) == ([], []), f"{stack}: resources added {added}, removed {removed}"


if __name__ == "__main__":  # re-record every fixture
    for name in STACKS:
        rows = resource_list(name, Path(__file__).resolve().parents[2])
        (FIXTURES / f"{name}.json").write_text(json.dumps(rows, indent=1) + "\n")
        print(f"recorded {name}: {len(rows)} resources")
