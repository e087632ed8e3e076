"""`inferstack score`: every row equals the model in process; rejects; kill and resume."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inferstack.runtime.errors import ConfigError, InvalidInput
from inferstack.runtime.scoring import score
from tests.runtime.conftest import Built

NAMES = [f"f{j}" for j in range(20)]


def _rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 20))


def _csv(path: Path) -> list[list[str]]:
    """A CSV file's lines after its header."""
    with path.open(newline="") as fh:
        lines = list(csv.reader(fh))
    return lines[1:]


def _by_file(out: Path) -> dict[tuple[int, int], list[float]]:
    """Predictions by (input file, row number); no row may be written twice."""
    found: dict[tuple[int, int], list[float]] = {}
    for part in sorted(out.glob("part-*.csv")):
        file = int(part.name.split("-")[1])
        for line in _csv(part):
            key = (file, int(line[0]))
            assert key not in found, f"row {key} written twice"
            found[key] = [float(v) for v in line[1:]]
    return found


def _parts(out: Path) -> dict[int, list[float]]:
    """Predictions by row number of a job of one input file."""
    return {row: v for (_, row), v in _by_file(out).items()}


def test_every_row_of_csv_and_parquet_equals_the_model_in_process(
    sklearn_bundle: Built, tmp_path: Path
) -> None:
    path, proba, _ = sklearn_bundle
    src = tmp_path / "in"
    src.mkdir()
    a, b = _rows(2_345, 1), _rows(1_800, 2)
    pd.DataFrame(a, columns=NAMES).to_csv(src / "a.csv", index=False)
    # extra columns are ignored, and the order of columns does not matter
    frame = pd.DataFrame(b, columns=NAMES).assign(id=np.arange(len(b)))
    frame[["id", *reversed(NAMES)]].to_parquet(src / "b.parquet")
    result = score(path, src, tmp_path / "out", workers=2, chunk_rows=500)
    assert (result.rows, result.rejected, result.scored_now) == (4_145, 0, 4_145)
    assert result.chunks == 5 + 4
    got = _by_file(tmp_path / "out")
    for file, x in ((0, a), (1, b)):
        expected = proba(x)
        scored = np.array([got[(file, i)] for i in range(len(x))])
        np.testing.assert_allclose(scored, expected, rtol=1e-12, atol=0)
    assert (tmp_path / "out" / "_SUCCESS").exists()


def test_bad_rows_go_to_rejects_with_their_reason_and_never_stop_the_job(
    sklearn_bundle: Built, tmp_path: Path
) -> None:
    path, proba, _ = sklearn_bundle
    x = _rows(300, 3)
    lines = [",".join(NAMES)] + [",".join(repr(v) for v in r) for r in x.tolist()]
    lines[1 + 10] = lines[1 + 10].replace(lines[1 + 10].split(",")[4], "abc", 1)
    cells = lines[1 + 250].split(",")
    cells[7] = ""
    lines[1 + 250] = ",".join(cells)
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    result = score(path, tmp_path / "in.csv", tmp_path / "out", workers=0, chunk_rows=100)
    assert (result.rows, result.rejected) == (298, 2)
    rejects = [line for f in sorted((tmp_path / "out").glob("rejects-*.csv")) for line in _csv(f)]
    assert rejects == [
        ["10", "row 10 (feature 'f4'): 'abc' is not a number"],
        ["250", "row 250 (feature 'f7'): NaN or infinity is not allowed"],
    ]
    got = _parts(tmp_path / "out")
    assert sorted(got) == [i for i in range(300) if i not in (10, 250)]
    expected = proba(x)
    for i, value in got.items():
        np.testing.assert_allclose(value, expected[i], rtol=1e-12, atol=0)


def test_clear_errors_for_a_missing_column_and_another_job(
    sklearn_bundle: Built, tmp_path: Path
) -> None:
    path = sklearn_bundle[0]
    pd.DataFrame(_rows(10, 4)[:, :19], columns=NAMES[:19]).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(InvalidInput, match=r"input 'x\.csv': no column 'f19'"):
        score(path, tmp_path / "x.csv", tmp_path / "o1", workers=0)
    pd.DataFrame(_rows(10, 4), columns=NAMES).to_csv(tmp_path / "y.csv", index=False)
    score(path, tmp_path / "y.csv", tmp_path / "o2", workers=0, chunk_rows=5)
    with pytest.raises(ConfigError, match="holds a job with other chunk_rows"):
        score(path, tmp_path / "y.csv", tmp_path / "o2", workers=0, chunk_rows=7)


def test_killed_job_resumes_to_the_same_output_without_duplicates(
    sklearn_bundle: Built, tmp_path: Path
) -> None:
    path, proba, _ = sklearn_bundle
    x = _rows(30_000, 5)
    pd.DataFrame(x, columns=NAMES).to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "out"
    cmd = [
        sys.executable,
        "-m",
        "inferstack.components.cli",
        "score",
        str(path),
        str(tmp_path / "in.parquet"),
        "--out",
        str(out),
        "--workers",
        "1",
        "--chunk-rows",
        "100",
        "--no-progress",
    ]
    # its own session: the SIGKILL reaches the job and its worker, nothing else
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL)
    ledger = out / "_done.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger.exists() and len(ledger.read_bytes().splitlines()) >= 5:
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the job ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert not (out / "_SUCCESS").exists()
    finished_before = len(ledger.read_bytes().splitlines())
    assert 5 <= finished_before < 300

    again = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    assert again.returncode == 0, again.stderr
    scored_now = int(again.stdout.split("(")[1].split()[0])
    assert scored_now <= 30_000 - 100 * (finished_before - 1)
    got = _parts(out)
    assert sorted(got) == list(range(30_000))
    np.testing.assert_allclose(np.array([got[i] for i in range(30_000)]), proba(x), rtol=1e-12)
    assert not list(out.glob("*.tmp"))
