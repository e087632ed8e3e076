"""`python -m inferstack.runtime.batch_job`: a bad setting is a configuration error (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_a_bad_setting_exits_2_naming_the_variable(tmp_path: Path) -> None:
    (tmp_path / "in.csv").write_text("f0\n1.0\n")
    env = {**os.environ, "INFERSTACK_WORKERS": "many"}
    done = subprocess.run(
        [sys.executable, "-m", "inferstack.runtime.batch_job", str(tmp_path / "in.csv"), "out"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    # 2 tells the Job's pod failure policy that a retry cannot help (1 would be retried)
    assert done.returncode == 2, done.stderr
    assert "inferstack batch_job:" in done.stderr
    assert "INFERSTACK_WORKERS" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
