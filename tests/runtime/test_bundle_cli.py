"""``inferstack bundle`` run for real (typed features, files, requirements, samples, MLflow
models), the bundles served by a real server, and the checks the server makes at start."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from inferstack.runtime import contract, read_manifest
from tests.runtime.conftest import Built
from tests.runtime.server import RuntimeServer, metric_value

# The `inferstack` command, run from this environment.
INFERSTACK = [sys.executable, "-m", "inferstack.components.cli"]
SKLEARN = metadata.version("scikit-learn")


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The installed ``inferstack`` command."""
    return subprocess.run(
        [*INFERSTACK, *map(str, args)], capture_output=True, text=True, timeout=180, check=False
    )


def bundle_cmd(model: str | Path, out: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return cli("bundle", model, "--name", "m", "--version", "1.0.0", "--out", out, *args)


@pytest.fixture(scope="module")
def frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(4)
    x = pd.DataFrame({"income": rng.normal(50, 10, 200), "age": rng.integers(18, 80, 200)})
    return x, (x["income"] + x["age"] / 4 > 60).to_numpy().astype(int)


def test_mlflow_sklearn_model_is_bundled_by_the_cli_and_served(
    frame: tuple[pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    import mlflow.sklearn
    from mlflow.models import infer_signature

    x, y = frame
    model = LogisticRegression(max_iter=500).fit(x, y)
    mlflow_dir = tmp_path / "mlflow-model"
    with warnings.catch_warnings():  # mlflow's own warnings, raised as errors, break its inference
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(
            model,
            mlflow_dir,
            signature=infer_signature(x, model.predict(x)),
            pip_requirements=[f"scikit-learn=={SKLEARN}"],
        )
    done = bundle_cmd(mlflow_dir, tmp_path / "b")  # MLflow 3 saves skops: no opt-in
    assert done.returncode == 0, done.stderr
    manifest = read_manifest(tmp_path / "b")
    assert manifest.framework == "sklearn"
    assert [(f.name, f.dtype) for f in manifest.input.features or ()] == [
        ("income", "float64"),
        ("age", "int64"),
    ]
    assert manifest.requirements == (f"scikit-learn=={SKLEARN}",)  # mlflow itself dropped
    assert manifest.saved_with is not None
    assert manifest.saved_with.framework_version == SKLEARN
    assert manifest.artifact is not None
    assert manifest.artifact.endswith(".skops")
    pickled_dir = tmp_path / "mlflow-pickle"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(model, pickled_dir, serialization_format="cloudpickle")
    refused = bundle_cmd(pickled_dir, tmp_path / "p")
    assert refused.returncode == 2
    assert "is a pickle" in refused.stdout + refused.stderr
    assert bundle_cmd(pickled_dir, tmp_path / "p", "--allow-pickle").returncode == 0
    rows = x.head(5)
    want = model.predict_proba(rows)
    with RuntimeServer(tmp_path / "b", tmp_path) as server:
        got = server.post("/predict", json={"instances": rows.to_dict("records")})
        assert got.status_code == 200, got.text
        np.testing.assert_allclose(got.json()["predictions"], want, rtol=1e-9)
        csv = "\n".join(f"{a},{b}" for a, b in rows.itertuples(index=False))
        answer = server.post("/invocations", content=csv, headers={"content-type": "text/csv"})
        np.testing.assert_allclose(answer.json()["predictions"], want, rtol=1e-9)


HELPER = "def scale(x):\n    return x * 2.0\n"
PREDICTOR = """
import numpy as np
from helper import scale


class Doubler:
    def predict(self, batch):
        return np.asarray([scale(float(r[0])) + len(r[1]) for r in batch])
"""


def test_custom_predictor_with_helper_typed_features_and_requirements(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text(HELPER)
    (tmp_path / "doubler.py").write_text(PREDICTOR)
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("numpy>=2\n")
    done = bundle_cmd(
        f"{tmp_path / 'doubler.py'}:Doubler",
        tmp_path / "b",
        "--framework",
        "custom",
        "--features",
        "amount:float64,city:string",
        "--files",
        tmp_path / "helper.py",
        "--requirements",
        reqs,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "b" / "helper.py").is_file()
    manifest = read_manifest(tmp_path / "b")
    assert manifest.input.dtypes == ["float64", "string"]
    assert manifest.requirements == ("numpy>=2",)
    assert (tmp_path / "b" / "requirements.txt").read_text() == "numpy>=2\n"
    with RuntimeServer(tmp_path / "b", tmp_path) as server:
        got = server.post("/predict", json={"instances": [[1.5, "Paris"], [2.0, "Rome"]]})
        assert got.status_code == 200, got.text
        assert got.json()["predictions"] == [3.0 + 5, 4.0 + 4]


def test_sample_csv_gives_names_and_dtypes(
    frame: tuple[pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    import skops.io as sio

    x, y = frame
    sio.dump(LogisticRegression(max_iter=500).fit(x, y), tmp_path / "model.skops")
    x.head(20).to_csv(tmp_path / "sample.csv", index=False)
    done = bundle_cmd(
        tmp_path / "model.skops",
        tmp_path / "b",
        "--framework",
        "sklearn",
        "--sample",
        tmp_path / "sample.csv",
    )
    assert done.returncode == 0, done.stderr
    manifest = read_manifest(tmp_path / "b")
    assert manifest.input.names == ["income", "age"]
    assert manifest.input.dtypes == ["float64", "int64"]


def test_reference_csv_gives_profiles_and_a_digested_samples_file(
    frame: tuple[pd.DataFrame, np.ndarray], tmp_path: Path
) -> None:
    import skops.io as sio

    from inferstack.runtime.reference_samples import read_samples

    x, y = frame
    model = LogisticRegression(max_iter=500).fit(x, y)
    sio.dump(model, tmp_path / "model.skops")
    x.head(20).to_csv(tmp_path / "sample.csv", index=False)
    x.to_csv(tmp_path / "data.csv", index=False)
    args = ["--framework", "sklearn", "--sample", tmp_path / "sample.csv"]
    done = bundle_cmd(tmp_path / "model.skops", tmp_path / "b", *args, "--reference", "data.csv")
    assert done.returncode != 0
    assert "--reference 'data.csv'" in done.stderr  # relative to the cwd: not there

    done = bundle_cmd(
        tmp_path / "model.skops", tmp_path / "b", *args, "--reference", tmp_path / "data.csv"
    )
    assert done.returncode == 0, done.stderr
    manifest = read_manifest(tmp_path / "b")
    assert manifest.reference is not None
    assert set(manifest.reference) == {"income", "age"}
    income = manifest.reference["income"]
    want = np.quantile(x["income"], np.linspace(0, 1, 11)[1:-1])
    np.testing.assert_allclose(income.edges, want)
    assert manifest.prediction_reference is not None
    assert manifest.reference_samples == "reference.npz"
    assert manifest.digests is not None
    assert "reference.npz" in manifest.digests
    doc = yaml.safe_load((tmp_path / "b" / contract.MANIFEST_FILE).read_text())
    # numeric profiles: quantile bins and the range (anomalous inputs are outside it)
    assert all(set(p) == {"edges", "fractions", "low", "high"} for p in doc["reference"].values())
    samples = read_samples(tmp_path / "b" / "reference.npz")
    for name in ("income", "age"):  # 200 rows: all of them, as float32
        np.testing.assert_allclose(samples.features[name], x[name], rtol=1e-6)
    assert samples.prediction is not None
    np.testing.assert_allclose(samples.prediction, model.predict_proba(x)[:, 1], rtol=1e-5)

    x.drop(columns="age").assign(agee=1).to_csv(tmp_path / "bad.csv", index=False)
    done = bundle_cmd(
        tmp_path / "model.skops", tmp_path / "c", *args, "--reference", tmp_path / "bad.csv"
    )
    assert done.returncode != 0
    assert "reference: no column 'age'" in done.stderr
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--features", "a:float,b"], "--features 'a:float,b': feature 'a' has unknown dtype"),
        (["--dtype", "float16"], "--dtype 'float16'"),
        (["--files", "missing.py"], "--files 'missing.py' is not a file"),
        (["--requirements", "REQS"], "--requirements 'REQS' line 2"),
        (["--sample", "data.json"], "--sample 'data.json': expected a .csv or .parquet"),
        (["--shape", "3,x"], "--shape '3,x'"),
        (["--framework", "keras"], "--framework 'keras'"),
    ],
)
def test_bad_option_values_exit_2_naming_the_option(
    args: list[str], message: str, sklearn_bundle: Built, tmp_path: Path
) -> None:
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("numpy\nnot valid!\n")
    (tmp_path / "data.json").write_text("{}")
    args = [str(reqs) if a == "REQS" else a for a in args]
    message = message.replace("REQS", str(reqs))
    model = sklearn_bundle[0] / "model.skops"
    done = subprocess.run(
        [
            *INFERSTACK,
            "bundle",
            str(model),
            "--name",
            "m",
            "--version",
            "1.0.0",
            "--out",
            str(tmp_path / "b"),
            *(["--framework", "sklearn"] if "--framework" not in args else []),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert f"error: {message}" in done.stderr
    assert not (tmp_path / "b").exists()


def _saved_version(bundle_dir: Path, version: str) -> Path:
    path = bundle_dir / contract.MANIFEST_FILE
    data = yaml.safe_load(path.read_text())
    data["saved_with"]["framework_version"] = version
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return bundle_dir


def _exits(server: RuntimeServer, timeout: float = 60.0) -> int:
    cmd = [sys.executable, "-m", "inferstack.runtime", "serve", str(server.bundle)]
    with server.log_path.open("wb") as log:
        done = subprocess.run(
            cmd, env=server.env, stdout=log, stderr=subprocess.STDOUT, timeout=timeout, check=False
        )
    return done.returncode


@pytest.fixture
def copied(sklearn_bundle: Built, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(sklearn_bundle[0], tmp_path / "bundle"))


def test_server_warns_on_another_minor_version(copied: Path, tmp_path: Path) -> None:
    major, minor = (int(p) for p in SKLEARN.split(".")[:2])
    other = f"{major}.{minor + 1}.0"
    with RuntimeServer(_saved_version(copied, other), tmp_path) as server:
        assert server.get("/ping").status_code == 200
        lines = [json.loads(x) for x in server.log_path.read_text().splitlines() if x.strip()]
    warned = [r for r in lines if r["level"] == "warning" and "another minor version" in r["msg"]]
    assert len(warned) == 1
    assert other in warned[0]["msg"]
    assert SKLEARN in warned[0]["msg"]


def test_server_refuses_another_major_version_unless_forced(copied: Path, tmp_path: Path) -> None:
    major = int(SKLEARN.split(".")[0])
    bundle_dir = _saved_version(copied, f"{major - 1}.2.0")
    refused = RuntimeServer(bundle_dir, tmp_path)
    assert _exits(refused) == 2
    error = [json.loads(line) for line in refused.logs().splitlines() if line.strip()][-1]
    assert error["level"] == "error"
    assert f"scikit-learn {major - 1}.2.0; this environment has {SKLEARN}" in error["error"]
    forced = RuntimeServer(bundle_dir, tmp_path, env={contract.Env.ALLOW_VERSION_MISMATCH: "true"})
    with forced:
        assert forced.get("/ping").status_code == 200
    assert "another major version, loading anyway" in forced.log_path.read_text()


def test_server_refuses_a_bundle_of_another_model_version(copied: Path, tmp_path: Path) -> None:
    server = RuntimeServer(copied, tmp_path, env={contract.Env.MODEL_VERSION: "9.9.9"})
    assert _exits(server) == 2
    assert "INFERSTACK_MODEL_VERSION is 9.9.9 but the bundle" in server.logs()
    assert f"is version {read_manifest(copied).version}" in server.logs()


def test_environment_is_in_every_log_line_and_the_info_metric(copied: Path, tmp_path: Path) -> None:
    env = {contract.Env.ENVIRONMENT: "staging", "INFERSTACK_LOG_LEVEL": "info"}
    with RuntimeServer(copied, tmp_path, env=env) as server:
        text = server.get("/metrics").text
        server.post("/predict", json={"instances": [["bad"]]})  # logs a warning line
        time.sleep(0.2)
        logs = server.log_path.read_text()
    assert metric_value(text, "inferstack_model_info", environment="staging") == 1
    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert len(lines) >= 3
    assert all(r.get("environment") == "staging" for r in lines), lines
