"""The CLI's one home: every command group registered, a missing extra named."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from inferstack.components.cli.app import COMMAND_GROUPS, CommandGroup, app, register_groups


def test_every_command_group_is_registered() -> None:
    registered = {
        c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands
    }
    assert registered == {name for group in COMMAND_GROUPS for name in group.commands}


def test_a_group_whose_extra_is_missing_says_which_extra_to_install() -> None:
    other = typer.Typer()
    register_groups(
        other,
        (
            CommandGroup(
                "tests.unit.cli_group_needing_a_missing_package", ("predict", "explain"), "gpu"
            ),
        ),
    )
    result = CliRunner().invoke(other, ["predict", "--any", "thing"])
    assert result.exit_code == 2
    assert "needs the package 'no_such_package_for_cli_tests'" in result.output
    assert "pip install 'inferstack[gpu]'" in result.output


def test_build_refuses_an_extra_the_image_cannot_hold() -> None:
    from tests.conftest import ROOT

    bundle = ROOT / "examples" / "logreg-20f" / "bundle"
    result = CliRunner().invoke(app, ["build", str(bundle), "--extra", "aws", "--no-verify"])
    assert result.exit_code == 1
    assert (
        "--extra aws: not an image extra; one of azureml-batch, batch, capture-azure"
        in result.output
    )
