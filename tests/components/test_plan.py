"""The offline plan engine on a small stand-alone project, independent of the targets."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from inferstack.components.plan.run import SECRET_MASK, PlanError, run_plan

PROGRAM = textwrap.dedent(
    """
    import pulumi
    import pulumi_random as random

    class Pair(pulumi.ComponentResource):
        def __init__(self, name, opts=None):
            super().__init__("test:index:Pair", name, None, opts)
            cfg = pulumi.Config("demo")
            self.key = random.RandomPassword(f"{name}-key", length=cfg.require_int("length"),
                                             opts=pulumi.ResourceOptions(parent=self))
            self.tag = random.RandomString(f"{name}-tag", length=4, special=False,
                                           opts=pulumi.ResourceOptions(parent=self))
            self.register_outputs({})

    pair = Pair("pair")
    pulumi.export("tag", pair.tag.result)
    pulumi.export("key", pair.key.result)
    pulumi.export("password", pulumi.Config("demo").require_secret("password"))
    """
)


def make_project(tmp_path: Path, program: str, config: str) -> Path:
    (tmp_path / "Pulumi.yaml").write_text(
        "name: demo\nruntime: python\nmain: stacks/\nstackConfigDir: stacks\n"
    )
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "__main__.py").write_text(program)
    (stacks / "Pulumi.dev.yaml").write_text(config)
    return tmp_path


CONFIG = "config:\n  demo:length: 12\n  demo:password:\n    secure: AAABAJ1xyz\n"


def test_records_types_names_parents_and_inputs(tmp_path: Path) -> None:
    plan = run_plan("dev", make_project(tmp_path, PROGRAM, CONFIG))
    by_name = {r.name: r for r in plan.resources}
    assert set(by_name) == {"pair", "pair-key", "pair-tag"}
    assert by_name["pair"].type == "test:index:Pair"
    assert by_name["pair"].parent is None
    assert by_name["pair-key"].parent == "pair"
    assert by_name["pair-key"].type == "random:index/randomPassword:RandomPassword"
    assert by_name["pair-key"].inputs["length"] == 12
    assert by_name["pair-tag"].inputs == {"length": 4, "special": False}


def test_outputs_resolve_and_secrets_are_masked(tmp_path: Path) -> None:
    plan = run_plan("dev", make_project(tmp_path, PROGRAM, CONFIG))
    assert len(plan.outputs["tag"]) == 4
    # RandomPassword.result is a secret output, so is a secret config value.
    assert plan.outputs["key"] == SECRET_MASK
    assert plan.outputs["password"] == SECRET_MASK


def test_each_plan_starts_from_a_clean_runtime(tmp_path: Path) -> None:
    project = make_project(tmp_path, PROGRAM, CONFIG)
    first = run_plan("dev", project)
    second = run_plan("dev", project)
    assert [r.urn for r in first.resources] == [r.urn for r in second.resources]


def test_program_errors_surface_as_plan_errors(tmp_path: Path) -> None:
    program = "import pulumi\nraise pulumi.RunError('spec says no')\n"
    with pytest.raises(PlanError, match="spec says no"):
        run_plan("dev", make_project(tmp_path, program, CONFIG))


def test_missing_required_config_is_reported(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="demo:length"):
        run_plan("dev", make_project(tmp_path, PROGRAM, "config: {}\n"))
