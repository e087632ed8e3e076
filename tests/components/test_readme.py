"""The README's promises: its code runs under the mocks, its tables match the project."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from inferstack.components.plan.run import run_under_mocks
from inferstack.components.spec.config import stack_names
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def snippets(tag: str) -> list[str]:
    return re.findall(rf"<!-- readme-test: {tag} -->\n```python\n(.*?)```", README, re.S)


def test_the_import_example_declares_an_endpoint() -> None:
    (code,) = snippets("mocks")
    assert len(code.strip().splitlines()) <= 16
    plan = run_under_mocks(lambda: exec(compile(code, "README.md", "exec"), {}))  # noqa: S102
    types = {r.type for r in plan.resources}
    assert "aws:sagemaker/endpointConfiguration:EndpointConfiguration" in types
    assert "pulumi-python:dynamic:Resource" in types  # the endpoint: aws/endpoint_provider.py
    assert plan.outputs["url"].startswith("https://")


def test_every_stack_is_described() -> None:
    described = set(re.findall(r"^\| `([a-z0-9-]+)` \| ", README, re.M))
    assert set(stack_names(ROOT)) <= described


@pytest.mark.parametrize("command", re.findall(r"^\| `inferstack ([\w-]+)", README, re.M))
def test_every_cli_command_in_the_table_exists(command: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "inferstack.components.cli", command, "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_quickstart_shows_the_two_commands_first() -> None:
    quickstart = README.split("## Quickstart", 1)[1]
    first_block = quickstart.split("```bash\n", 1)[1].split("```", 1)[0]
    assert [line.split()[:2] for line in first_block.strip().splitlines()] == [
        ["make", "up"],
        ["make", "test"],
    ]


def test_every_policy_rule_is_listed() -> None:
    block = re.search(r"<!-- policy-table:start -->\n(.*?)<!-- policy-table:end -->", README, re.S)
    assert block, "README has no policy table markers"
    assert block.group(1) == policy_table(), "regenerate: python -m tests.components.test_readme"


def test_the_stacks_table_is_generated_from_the_stack_files() -> None:
    from inferstack.components.cli.stacks import stacks_table

    block = re.search(r"<!-- stacks-table:start -->\n(.*?)<!-- stacks-table:end -->", README, re.S)
    assert block, "README has no stacks table markers"
    assert block.group(1) == stacks_table(ROOT), (
        "regenerate: python -m tests.components.test_readme"
    )


def policy_table() -> str:
    """The policy pack's rules as the README's Markdown table."""
    from inferstack.policies import RULES

    rows = [f"| `{r.name}` | {r.enforcement} | {r.description} |" for r in RULES]
    return "\n".join(["| rule | enforcement | what it requires |", "|---|---|---|", *rows]) + "\n"


def regenerate_tables() -> None:
    """Rewrite the README's generated tables (stacks, policy rules)."""
    from inferstack.components.cli.stacks import stacks_table

    path = ROOT / "README.md"
    text = path.read_text()
    for name, table in (("stacks-table", stacks_table(ROOT)), ("policy-table", policy_table())):
        start = text.index(f"<!-- {name}:start -->\n") + len(f"<!-- {name}:start -->\n")
        end = text.index(f"<!-- {name}:end -->")
        text = text[:start] + table + text[end:]
    path.write_text(text)


if __name__ == "__main__":
    regenerate_tables()
