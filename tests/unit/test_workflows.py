"""The CI/CD workflows: actionlint and shellcheck clean, stacks derived from stacks/,
preview on pull requests, dev -> staging -> prod on merge, OIDC only, pinned actions,
least permissions, one apply per stack; the GitLab example valid against GitLab's schema."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from inferstack.components.cli.pulumi_release import load_release
from inferstack.components.spec.config import stack_names
from tests.conftest import ROOT
from tests.tools import require_tool

WORKFLOWS = ROOT / ".github" / "workflows"
SCRIPTS = ROOT / ".github" / "scripts"
GITLAB = ROOT / "examples" / "ci" / "gitlab-ci.yml"
SHELL_SCRIPTS = [*sorted(SCRIPTS.glob("*.sh")), ROOT / "examples" / "ci" / "oidc-login.sh"]
CLOUD_LOGINS = {
    "aws-actions/configure-aws-credentials": "role-to-assume",
    "azure/login": "client-id",
    "google-github-actions/auth": "workload_identity_provider",
}


def load(name: str) -> dict[str, Any]:
    document = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the bare key `on` as True.
    document["on"] = document.pop(True, document.get("on"))
    return document


def workflows() -> list[str]:
    return sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def steps(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for job in document["jobs"].values() for s in job.get("steps", [])]


def stacks_script(*args: str, stdin: str = "") -> str:
    result = subprocess.run(
        [sys.executable, str(SCRIPTS / "stacks.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_actionlint_passes_every_workflow_with_shellcheck_on_run_steps() -> None:
    actionlint = require_tool("actionlint")
    shellcheck = require_tool("shellcheck")
    path = f"{Path(shellcheck).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    result = subprocess.run(
        [actionlint, "-shellcheck", shellcheck, *(str(WORKFLOWS / n) for n in workflows())],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PATH": path},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The check above can fail: a typo'd expression and an unquoted variable are found."""
    actionlint = require_tool("actionlint")
    shellcheck = require_tool("shellcheck")
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n"
        "      - run: echo ${{ github.evnt.name }}\n      - run: rm -rf $DIR/*\n"
    )
    result = subprocess.run(
        [actionlint, "-shellcheck", shellcheck, str(broken)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert "evnt" in result.stdout
    assert "SC2086" in result.stdout


@pytest.mark.parametrize("script", SHELL_SCRIPTS, ids=lambda p: p.name)
def test_shell_scripts_pass_shellcheck(script: Path) -> None:
    shellcheck = require_tool("shellcheck")
    result = subprocess.run(
        [shellcheck, "-x", str(script)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


def test_the_stack_list_is_derived_from_every_stack_file() -> None:
    names = stack_names(ROOT)
    assert stacks_script().split() == names
    cloud = json.loads(stacks_script("--cloud", "--matrix"))["include"]
    assert {s["stack"] for s in cloud} == {n for n in names if n != "local"}
    # Each cloud stack deploys in exactly one stage.
    staged = [
        s["stack"]
        for env in ("dev", "staging", "prod")
        for s in json.loads(stacks_script("--cloud", "--matrix", "--environment", env))["include"]
    ]
    assert sorted(staged) == sorted(s["stack"] for s in cloud)
    for stack in cloud:
        assert stack["target"] in ("aws", "azure", "gcp")
        assert stack["region"], stack


def test_no_workflow_lists_stacks_by_hand() -> None:
    for path in [*WORKFLOWS.glob("*.yml"), GITLAB]:
        text = path.read_text()
        for name in stack_names(ROOT):
            assert not re.search(rf"\b{re.escape(name)}\b", text), (path.name, name)
    assert "stacks.py" in (WORKFLOWS / "ci.yml").read_text()
    assert "stacks.py" in (WORKFLOWS / "preview.yml").read_text()
    assert "stacks.py" in (WORKFLOWS / "deploy.yml").read_text()


def targets() -> dict[str, str]:
    """Each stack's target, read from its file."""
    return {
        name: yaml.safe_load((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text())["config"][
            "inferstack:deployment"
        ]["target"]
        for name in stack_names(ROOT)
    }


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["docs/aws.md", "tests/unit/test_spec.py"], "none"),
        (["stacks/Pulumi.prod-aws.yaml"], "prod-aws"),
        (["components/aws/gateway.py"], "target aws"),
        (["policies/aws.py"], "target aws"),
        (["components/spec/models.py"], "all"),
        (["runtime/server.py"], "all"),
        (["pyproject.toml"], "all"),
    ],
)
def test_preview_covers_the_stacks_a_change_affects(changed: list[str], expected: str) -> None:
    cloud = {n: t for n, t in targets().items() if t != "local"}
    got = stacks_script("--cloud", "--changed", "-", stdin="\n".join(changed)).split()
    if expected == "all":
        want = list(cloud)
    elif expected == "none":
        want = []
    elif expected.startswith("target "):
        want = [n for n, t in cloud.items() if t == expected.removeprefix("target ")]
        assert len(want) >= 2
    else:
        want = [expected]
    assert got == want


def test_pull_requests_preview_and_comment_and_plan_every_stack() -> None:
    preview = load("preview.yml")
    assert "pull_request" in preview["on"]
    pulumi = [s for s in steps(preview) if s.get("uses", "").startswith("pulumi/actions@")]
    assert len(pulumi) == 1
    assert pulumi[0]["with"]["command"] == "preview"
    assert pulumi[0]["with"]["comment-on-pr"] is True
    assert pulumi[0]["with"]["policyPacks"] == "policies"
    assert "cost-change.sh" in (WORKFLOWS / "preview.yml").read_text()
    ci = load("ci.yml")
    assert {"pull_request", "push"} <= set(ci["on"])
    assert any("inferstack plan" in s.get("run", "") and "--cost" in s["run"] for s in steps(ci))
    assert any(".ci/run" in s.get("run", "") for s in steps(ci))


def test_merges_deploy_dev_then_staging_then_prod_behind_reviewers() -> None:
    deploy = load("deploy.yml")
    assert deploy["on"]["push"]["branches"] == ["main"]
    jobs = deploy["jobs"]
    assert jobs["dev"]["with"]["environment"] == "dev"
    assert "dev" in jobs["staging"]["needs"]
    assert "staging" in jobs["prod"]["needs"]
    assert jobs["prod"]["with"]["environment"] == "production"
    for stage in ("dev", "staging", "prod"):
        assert jobs[stage]["uses"] == "./.github/workflows/pulumi-up.yml"
        assert jobs[stage]["with"]["matrix"] == f"${{{{ needs.stacks.outputs.{stage} }}}}"
    up = load("pulumi-up.yml")["jobs"]["up"]
    assert up["environment"] == "${{ inputs.environment }}"
    pulumi = [s for s in up["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi[0]["with"]["command"] == "up"
    assert pulumi[0]["with"]["policyPacks"] == "policies"


def test_two_applies_never_run_on_one_stack() -> None:
    up = load("pulumi-up.yml")["jobs"]["up"]
    assert up["concurrency"] == {
        "group": "pulumi-up-${{ matrix.stack }}",
        "cancel-in-progress": False,
    }
    assert "matrix.stack" in load("preview.yml")["jobs"]["preview"]["concurrency"]["group"]


def test_clouds_are_reached_with_oidc_only() -> None:
    for name in workflows():
        text = (WORKFLOWS / name).read_text()
        for secret in ("aws-access-key-id", "aws-secret-access-key", "creds:", "credentials_json"):
            assert secret not in text, (name, secret)
        assert "PULUMI_ACCESS_TOKEN" not in text, name  # Pulumi Cloud by OIDC too
        for job in load(name)["jobs"].values():
            uses = [s.get("uses", "").split("@")[0] for s in job.get("steps", [])]
            logins = [u for u in uses if u in CLOUD_LOGINS or u == "pulumi/auth-actions"]
            if logins:
                assert job["permissions"]["id-token"] == "write", name
            for step in job.get("steps", []):
                action = step.get("uses", "").split("@")[0]
                if action in CLOUD_LOGINS:
                    assert CLOUD_LOGINS[action] in step["with"], (name, action)
    for name in ("preview.yml", "pulumi-up.yml"):
        used = {s.get("uses", "").split("@")[0] for s in steps(load(name))}
        assert set(CLOUD_LOGINS) | {"pulumi/auth-actions"} <= used, name


def test_actions_are_pinned_to_commits_and_permissions_are_least() -> None:
    for name in workflows():
        for line in (WORKFLOWS / name).read_text().splitlines():
            match = re.search(r"uses: (\S+)", line)
            if not match or match.group(1).startswith("./"):
                continue
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", match.group(1)), (name, line)
            assert re.search(r"# v\d+\.\d+\.\d+$", line), (name, line)
        document = load(name)
        assert document["permissions"] == {"contents": "read"}, name
        for job in document["jobs"].values():
            for scope, level in job.get("permissions", {}).items():
                assert (scope, level) in {
                    ("contents", "read"),
                    ("contents", "write"),
                    ("id-token", "write"),
                    ("pull-requests", "write"),
                }, (name, scope)


def test_ci_runs_the_pulumi_cli_that_make_up_pins() -> None:
    version = load_release().version
    for name in ("preview.yml", "pulumi-up.yml"):
        pulumi = [s for s in steps(load(name)) if s.get("uses", "").startswith("pulumi/actions@")]
        assert pulumi[0]["with"]["pulumi-version"] == version, name


def test_workflows_name_only_existing_make_targets() -> None:
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M))
    found = 0
    for path in [*WORKFLOWS.glob("*.yml"), GITLAB]:
        commands = re.findall(r"(?:^|&&|;|run:|- )\s*make ([a-z-]+)", path.read_text(), re.M)
        found += len(commands)
        for target in commands:
            assert target in targets, (path.name, target)
    assert found


def test_retraining_events_open_a_pull_request_without_injection() -> None:
    retrain = load("retrain.yml")
    assert retrain["on"] == {"repository_dispatch": {"types": ["retrain"]}}
    job = retrain["jobs"]["pull-request"]
    assert job["permissions"] == {"contents": "write", "pull-requests": "write"}
    for step in job["steps"]:
        # The event's payload reaches the shell through env, never pasted into a script.
        assert "client_payload" not in step.get("run", ""), step
    assert "gh pr create" in (WORKFLOWS / "retrain.yml").read_text()
    assert "pulumi" not in json.dumps(job["steps"]).replace("pulumi-", "")


def bump(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPTS / "bump_model.py"), "--root", str(root), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_bump_model_moves_the_model_and_keeps_the_rest(tmp_path: Path) -> None:
    (tmp_path / "stacks").mkdir()
    for path in (ROOT / "stacks").glob("Pulumi.*.yaml"):
        (tmp_path / "stacks" / path.name).write_text(path.read_text())
    result = bump(
        tmp_path, "--model", "churn-logreg", "--version", "1.1.0", "--artifact", "s3://m/1.1.0"
    )
    assert result.returncode == 0, result.stderr
    changed = result.stdout.split()
    assert "stacks/Pulumi.local.yaml" not in changed  # a bundle path only
    assert "local stack kept" in result.stderr
    for name in changed:
        before = (ROOT / name).read_text().splitlines()
        after = (tmp_path / name).read_text().splitlines()
        diff = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
        assert [b.strip() for _, b in diff] == ["version: 1.1.0", "artifact: s3://m/1.1.0"]
        model = yaml.safe_load("\n".join(after))["config"]["inferstack:deployment"]["model"]
        assert (model["version"], model["artifact"]) == ("1.1.0", "s3://m/1.1.0")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "churn-logreg", "--version", "1.1", "--artifact", "x"], "version: '1.1'"),
        (["--model", "a;b", "--version", "1.1.0", "--artifact", "x"], "model: 'a;b'"),
        (["--model", "m", "--version", "1.1.0", "--artifact", "../../etc"], "artifact:"),
        (["--model", "m", "--version", "1.1.0", "--artifact", "x$(id)"], "artifact:"),
    ],
)
def test_bump_model_refuses_bad_event_inputs(tmp_path: Path, args: list[str], message: str) -> None:
    result = bump(tmp_path, *args)
    assert result.returncode == 2
    assert f"error: retraining event: {message}" in result.stderr


def test_bump_model_names_a_model_no_stack_serves() -> None:
    result = bump(ROOT, "--model", "nobody-serves", "--version", "1.0.0", "--artifact", "s3://m")
    assert result.returncode == 1
    assert "no stack in stacks/ serves model 'nobody-serves'" in result.stderr


def test_the_gitlab_example_is_valid_gitlab_ci() -> None:
    """Checked against GitLab's published CI schema (tests/unit/schemas/gitlab-ci.json,
    MIT, as vendored by check-jsonschema 0.39.0)."""
    schema = json.loads((Path(__file__).parent / "schemas" / "gitlab-ci.json").read_text())
    document = yaml.safe_load(GITLAB.read_text())
    validator = jsonschema.Draft7Validator(schema)
    assert [e.message for e in validator.iter_errors(document)] == []
    assert list(validator.iter_errors({**document, "up-prod": {"scrip": ["x"]}}))
    assert document["stages"] == [
        "test",
        "plan",
        "preview",
        "deploy-dev",
        "deploy-staging",
        "deploy-prod",
    ]
    assert document["up-prod"]["environment"]["name"] == "production"
    assert document["up-prod"]["rules"][0]["when"] == "manual"
    tokens = document[".inferstack"]["id_tokens"]
    assert {"PULUMI_ID_TOKEN", "AWS_ID_TOKEN", "AZURE_ID_TOKEN", "GCP_ID_TOKEN"} == set(tokens)
    text = GITLAB.read_text()
    assert "stacks.py --cloud --environment" in text
    assert "oidc-login.sh" in text
