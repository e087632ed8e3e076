"""The user data's launch-hook handling, run for real in bash: its own prelude (retry,
the metadata read, `launched`, the exit trap) with `aws`, `curl` and `sleep` stand-ins
on PATH that record their calls. A failure after the instance id is known abandons the
launch at once; a call that fails while the host is new is retried."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from inferstack.components.aws.group_user_data import render_user_data
from tests.components.aws.test_group_drain import ARGS

INSTANCE = "i-0123456789abcdef0"


def _prelude() -> str:
    """The rendered script up to its first host change (installing /etc/inferstack)."""
    text = render_user_data(ARGS)
    return text[: text.index("install -d -m 0755 /etc/inferstack")]


def _stub(path: Path, body: str) -> None:
    path.write_text("#!/bin/bash\n" + body)
    path.chmod(0o755)


def _run(tmp_path: Path, tail: str, aws_fails: int = 0) -> tuple[int, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.log"
    count = tmp_path / "aws.count"
    count.write_text("0")
    _stub(
        bin_dir / "aws",
        f'echo "aws $*" >> {calls}\n'
        f"n=$(( $(cat {count}) + 1 )); echo $n > {count}\n"
        f'[ "$n" -gt {aws_fails} ]\n',
    )
    _stub(
        bin_dir / "curl",
        f'case "$*" in *api/token*) echo token ;; *instance-id*) echo {INSTANCE} ;; esac\n',
    )
    _stub(bin_dir / "sleep", ":\n")
    script = tmp_path / "user-data.sh"
    script.write_text(_prelude() + tail)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    done = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True)
    lines = calls.read_text().splitlines() if calls.exists() else []
    return done.returncode, lines


def test_a_failure_abandons_the_launch_at_once(tmp_path: Path) -> None:
    status, calls = _run(tmp_path, "false\n")
    assert status == 1
    assert calls == [
        "aws autoscaling complete-lifecycle-action --region us-east-1 "
        "--auto-scaling-group-name churn-prod --lifecycle-hook-name launch "
        f"--instance-id {INSTANCE} --lifecycle-action-result ABANDON"
    ]


def test_a_ready_host_continues_and_calls_are_retried(tmp_path: Path) -> None:
    status, calls = _run(tmp_path, "retry launched CONTINUE\n", aws_fails=2)
    assert status == 0
    assert len(calls) == 3  # two failed tries, then the one that went through
    assert all(c.endswith("--lifecycle-action-result CONTINUE") for c in calls)
