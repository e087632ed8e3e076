"""ab-report against two real runtime processes on 127.0.0.1 (versions 1.0.0 and 1.1.0 of
a model trained here): the requests each one answered are what the readout counts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from inferstack.components.cli.app import app
from inferstack.runtime.bundling import bundle
from tests.components.lifecycle.test_local import _project
from tests.runtime.server import RuntimeServer

ROOT = Path(__file__).resolve().parents[3]


def test_ab_report_reads_real_runtimes(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 3))
    model = LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))
    first = bundle(
        model,
        framework="sklearn",
        name="ab",
        version="1.0.0",
        out=tmp_path / "1.0.0",
        output="probabilities",
    )
    # the same model as 1.1.0: the manifest is not among the digested files
    second = tmp_path / "1.1.0"
    shutil.copytree(first, second)
    manifest = second / "inferstack.yaml"
    manifest.write_text(manifest.read_text().replace("version: 1.0.0", "version: 1.1.0", 1))
    bundles = {"1.0.0": first, "1.1.0": second}
    sent = {"1.0.0": 60, "1.1.0": 40}
    with (
        RuntimeServer(bundles["1.0.0"], tmp_path) as old,
        RuntimeServer(bundles["1.1.0"], tmp_path) as new,
    ):
        for server, version in ((old, "1.0.0"), (new, "1.1.0")):
            for _ in range(sent[version]):
                rows = rng.normal(size=(2, 3)).tolist()
                assert server.post("/invocations", json={"instances": rows}).status_code == 200
            # a bad request is a 4xx: not a server error, and still a request
            assert server.post("/invocations", json={"instances": [[1.0]]}).status_code == 400
        project = tmp_path / "project"
        project.mkdir()
        _project(project, ROOT)
        args = [
            "ab-report",
            "local",
            f"--metrics={old.url}/metrics",
            f"--metrics={new.url}/metrics",
            "--project",
            str(project),
            "--json",
        ]
        result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    counts = {v["version"]: (v["requests"], v["errors"]) for v in body["variants"]}
    assert counts == {"1.0.0": (61, 0), "1.1.0": (41, 0)}
    assert body["baseline"] == "1.0.0"
    latency = next(c for c in body["comparisons"] if c["metric"] == "latency ms")
    assert (latency["test"], latency["n_a"], latency["n_b"]) == ("Welch's t", 61, 41)
    error = next(c for c in body["comparisons"] if c["metric"] == "error rate")
    assert not error["enough_data"]  # no server errors at all: nothing to compare yet
    assert "A has 0 successes" in error["note"]
