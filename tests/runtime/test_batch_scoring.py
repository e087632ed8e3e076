"""`inferstack score`: every row equals the model in process; rejects; kill and resume."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from inferstack.runtime.batch_output import PartFormat
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
        ["250", "row 250 (feature 'f7'): '' is not a number"],  # as the server says it
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


def _frame_data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": np.round(rng.normal(50.0, 12.0, n), 3),
            "city": rng.choice(["oslo", "paris", "rome", "san jose, ca"], n),
        }
    )


@pytest.fixture(scope="module")
def frame_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A scikit-learn pipeline fitted on a DataFrame with a string column, bundled."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from inferstack.runtime import bundle

    df = _frame_data(400, 3)
    y = ((df["income"] > 50) ^ (df["city"] == "rome")).to_numpy().astype(int)
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["city"]),
            ("num", StandardScaler(), ["age", "income"]),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(df, y)
    out = tmp_path_factory.mktemp("frame") / "bundle"
    bundle(model, framework="sklearn", name="frame", version="1.0.0", out=out)
    return out, model


def test_a_dataframe_pipeline_scores_csv_and_parquet_as_in_process(
    frame_bundle: tuple[Path, Any], tmp_path: Path
) -> None:
    path, model = frame_bundle
    src = tmp_path / "in"
    src.mkdir()
    a, b = _frame_data(1_234, 5), _frame_data(987, 6)
    a.to_csv(src / "a.csv", index=False)  # the csv module quotes "san jose, ca"
    b.to_parquet(src / "b.parquet")
    # a worker process: chunks with a string column are pickled to it
    result = score(path, src, tmp_path / "out", workers=1, chunk_rows=300)
    assert (result.rows, result.rejected) == (2_221, 0)
    got = _by_file(tmp_path / "out")
    for file, frame in ((0, a), (1, b)):
        scored = np.array([got[(file, i)] for i in range(len(frame))])
        np.testing.assert_allclose(scored, model.predict_proba(frame), rtol=1e-12, atol=0)


def test_bad_rows_of_a_dataframe_pipeline_are_split_off_with_the_feature_and_reason(
    frame_bundle: tuple[Path, Any], tmp_path: Path
) -> None:
    path, model = frame_bundle
    frame = _frame_data(500, 7)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    income = table.column("income").to_numpy().copy()
    income[[3, 404]] = [np.nan, np.inf]
    city = table.column("city").to_pylist()
    city[120] = None
    table = pa.table(
        {"age": table.column("age"), "income": income, "city": pa.array(city, pa.string())}
    )
    pq.write_table(table, tmp_path / "in.parquet")
    result = score(path, tmp_path / "in.parquet", tmp_path / "out", workers=0, chunk_rows=200)
    assert (result.rows, result.rejected) == (497, 3)
    rejects = [line for f in sorted((tmp_path / "out").glob("rejects-*.csv")) for line in _csv(f)]
    assert rejects == [
        ["3", "row 3 (feature 'income'): NaN or infinity is not allowed"],
        ["120", "row 120 (feature 'city'): expected string, got null"],
        ["404", "row 404 (feature 'income'): NaN or infinity is not allowed"],
    ]
    got = _parts(tmp_path / "out")
    good = [i for i in range(500) if i not in (3, 120, 404)]
    assert sorted(got) == good
    expected = model.predict_proba(frame.iloc[good])
    np.testing.assert_allclose(np.array([got[i] for i in good]), expected, rtol=1e-12, atol=0)


def test_numeric_rejects_in_parquet_name_each_row_and_feature(
    sklearn_bundle: Built, tmp_path: Path
) -> None:
    path, proba, _ = sklearn_bundle
    x = _rows(1_000, 8)
    x[17, 2], x[18, 19], x[999, 0] = np.nan, -np.inf, np.nan
    pd.DataFrame(x, columns=NAMES).to_parquet(tmp_path / "in.parquet")
    result = score(path, tmp_path / "in.parquet", tmp_path / "out", workers=0, chunk_rows=250)
    assert (result.rows, result.rejected) == (997, 3)
    rejects = [line for f in sorted((tmp_path / "out").glob("rejects-*.csv")) for line in _csv(f)]
    assert rejects == [
        ["17", "row 17 (feature 'f2'): NaN or infinity is not allowed"],
        ["18", "row 18 (feature 'f19'): NaN or infinity is not allowed"],
        ["999", "row 999 (feature 'f0'): NaN or infinity is not allowed"],
    ]
    got = _parts(tmp_path / "out")
    good = [i for i in range(1_000) if i not in (17, 18, 999)]
    np.testing.assert_allclose(np.array([got[i] for i in good]), proba(x[good]), rtol=1e-12)


def test_parquet_part_files_hold_the_same_predictions_and_a_resume_keeps_the_format(
    sklearn_bundle: Built, tmp_path: Path
) -> None:
    path, proba, _ = sklearn_bundle
    x = _rows(2_100, 9)
    pd.DataFrame(x, columns=NAMES).to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "out"
    result = score(
        path, tmp_path / "in.parquet", out, workers=0, chunk_rows=1_000, part_format="parquet"
    )
    assert (result.chunks, result.rows) == (3, 2_100)
    assert not list(out.glob("part-*.csv"))
    table = pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("part-*.parquet")))
    assert table.column_names[0] == "row"
    assert table.column("row").to_pylist() == list(range(2_100))
    scored = np.column_stack([c.to_numpy() for c in table.columns[1:]])
    np.testing.assert_array_equal(scored, proba(x))  # stored as the model gave them
    with pytest.raises(ConfigError, match="holds a job with other part_format"):
        score(path, tmp_path / "in.parquet", out, workers=0, chunk_rows=1_000)
    with pytest.raises(InvalidInput, match="part_format must be one of csv, parquet"):
        score(path, tmp_path / "in.parquet", tmp_path / "o2", part_format="json")  # type: ignore[arg-type]


def test_the_cli_writes_parquet_part_files_when_asked(
    sklearn_bundle: Built, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from inferstack.components.cli.app import app

    path, proba, _ = sklearn_bundle
    x = _rows(500, 11)
    pd.DataFrame(x, columns=NAMES).to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out"
    args = ["score", str(path), str(tmp_path / "in.csv"), "--out", str(out), "--workers", "0"]
    result = CliRunner().invoke(app, [*args, "--part-format", "parquet", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert "500 rows scored, 0 rejected" in result.output
    table = pa.concat_tables(pq.read_table(p) for p in sorted(out.glob("part-*.parquet")))
    scored = np.column_stack([c.to_numpy() for c in table.columns[1:]])
    np.testing.assert_array_equal(scored, proba(x))
    refused = CliRunner().invoke(app, [*args, "--part-format", "json"])
    assert refused.exit_code == 2


def test_csv_text_that_pandas_would_call_missing_stays_text_as_on_the_server(
    frame_bundle: tuple[Path, Any], tmp_path: Path
) -> None:
    path, model = frame_bundle
    frame = _frame_data(40, 8)
    frame.loc[[1, 2, 3], "city"] = ["NA", "None", ""]  # Namibia, a word, an empty cell
    written = frame.astype(object)
    written.loc[5, "income"] = ""  # an empty number: refused, as the server refuses it
    written.to_csv(tmp_path / "in.csv", index=False)
    result = score(path, tmp_path / "in.csv", tmp_path / "out", workers=0)
    assert (result.rows, result.rejected) == (39, 1)
    rejects = [line for f in sorted((tmp_path / "out").glob("rejects-*.csv")) for line in _csv(f)]
    assert [r[0] for r in rejects] == ["5"]
    assert "income" in rejects[0][1]
    got = _parts(tmp_path / "out")
    good = [i for i in range(40) if i != 5]
    expected = model.predict_proba(frame.iloc[good])
    np.testing.assert_allclose(np.array([got[i] for i in good]), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_chunk_whose_every_row_is_rejected_writes_the_same_columns(
    sklearn_bundle: Built, tmp_path: Path, fmt: PartFormat
) -> None:
    path, proba, _ = sklearn_bundle
    x = _rows(300, 11)
    x[100:200, 3] = np.nan  # the whole second chunk
    pd.DataFrame(x, columns=NAMES).to_parquet(tmp_path / "in.parquet")
    out = tmp_path / "out"
    result = score(path, tmp_path / "in.parquet", out, workers=0, chunk_rows=100, part_format=fmt)
    assert (result.rows, result.rejected) == (200, 100)
    parts = sorted(out.glob(f"part-*.{fmt}"))
    assert len(parts) == 3
    if fmt == "parquet":
        schemas = {pq.read_schema(p) for p in parts}
        assert len(schemas) == 1, schemas  # one table: the empty part's types too
        table = pa.concat_tables(pq.read_table(p) for p in parts)
        got = np.column_stack([c.to_numpy() for c in table.columns[1:]])
    else:
        headers = {p.read_text().splitlines()[0] for p in parts}
        assert headers == {"row,0,1"}
        got = np.array([[float(v) for v in line[1:]] for p in parts for line in _csv(p)])
    good = [i for i in range(300) if not 100 <= i < 200]
    np.testing.assert_allclose(got, proba(x[good]), rtol=1e-12)
