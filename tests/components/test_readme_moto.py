"""The README's and docs/aws.md's "Testing your own stacks offline" example runs as shown."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
AWS_DOCS = (ROOT / "docs" / "aws.md").read_text()


def _moto_example() -> str:
    (code,) = re.findall(r"<!-- readme-test: moto -->\n```python\n(.*?)```", README, re.S)
    return code


def test_the_docs_show_the_same_example() -> None:
    section = AWS_DOCS.split("### Testing your own stacks offline", 1)[1]
    assert _moto_example() in section


def test_the_example_creates_the_endpoint_in_moto(monkeypatch: pytest.MonkeyPatch) -> None:
    # A developer's own AWS profile must not change what the example sees.
    for key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(key, "/dev/null")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    namespace: dict[str, object] = {}
    exec(compile(_moto_example(), "README.md", "exec"), namespace)  # noqa: S102
    # The example's own assert checked the instance type; moto held the endpoint.
    endpoint = namespace["endpoint"]
    assert isinstance(endpoint, dict)
    assert endpoint["EndpointName"] == "fraud-prod"
    assert endpoint["EndpointStatus"] == "InService"
