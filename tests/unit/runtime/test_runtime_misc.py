"""Auth, settings, drift maths, the public API and the CLI commands."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import inferstack.runtime as runtime
from inferstack.components.cli.runtime import register
from inferstack.runtime.auth import ApiKeyAuth, load_key_hashes
from inferstack.runtime.errors import ConfigError, Unauthorized
from inferstack.runtime.monitoring import DriftMonitor, profile, psi
from inferstack.runtime.settings import RuntimeSettings


def test_public_api_is_honest() -> None:
    for name in runtime.__all__:
        assert hasattr(runtime, name), name
    assert set(runtime.__all__) == set(runtime._EXPORTS)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = runtime.nope


def test_api_keys_from_env_hashes_and_file(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(
        "# comment\nplain-key\nsha256:" + hashlib.sha256(b"hashed-key").hexdigest() + "\n"
    )
    settings = RuntimeSettings(
        api_key="env-key", api_key_file=keys, api_key_hashes=hashlib.sha256(b"listed").hexdigest()
    )
    auth = ApiKeyAuth(load_key_hashes(settings))
    for key in (b"env-key", b"plain-key", b"hashed-key", b"listed"):
        auth.check(None, key)
        auth.check(b"Bearer " + key, None)
    with pytest.raises(Unauthorized, match="invalid API key"):
        auth.check(b"Bearer nope", None)
    with pytest.raises(Unauthorized, match="missing API key"):
        auth.check(b"Basic abc", None)
    auth.check(b"Bearer env-key", b"")  # an empty X-Api-Key does not hide the bearer token
    with pytest.raises(ConfigError, match="not a hex SHA-256") as info:
        load_key_hashes(RuntimeSettings(api_key_hashes="plain-secret-key"))
    assert "plain-secret" not in info.value.message  # a key put there by mistake stays secret


def test_key_file_with_a_byte_order_mark_or_bad_encoding(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_bytes("first-key\nsecond-key\n".encode("utf-8-sig"))  # as Windows editors save
    auth = ApiKeyAuth(load_key_hashes(RuntimeSettings(api_key_file=keys)))
    auth.check(None, b"first-key")
    keys.write_bytes(b"\xff\xfe\x00k")
    with pytest.raises(ConfigError, match="cannot read API key file"):
        load_key_hashes(RuntimeSettings(api_key_file=keys))


def test_sagemaker_variables_are_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAGEMAKER_BIND_TO_PORT", "9090")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_WORKERS", "3")
    monkeypatch.setenv("SAGEMAKER_MODEL_SERVER_TIMEOUT", "12")
    s = RuntimeSettings()
    assert (s.port, s.workers, s.request_timeout_s, s.bundle_dir) == (
        9090,
        3,
        12.0,
        Path("/opt/ml/model"),
    )
    monkeypatch.setenv("INFERSTACK_PORT", "7070")
    monkeypatch.setenv("INFERSTACK_MAX_BATCH_SIZE", "32")
    s = RuntimeSettings()
    assert s.port == 7070
    assert s.max_batch_size == 32


def test_psi_and_drift_monitor() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=(5000, 2))
    ref = profile(reference, ["a", "b"])
    assert psi(np.asarray(ref["a"].fractions), np.asarray(ref["a"].fractions)) == 0.0
    monitor = DriftMonitor(ref, ["a", "b"], window=100_000, min_rows=10)
    assert monitor.scores() == {}
    live = rng.normal(size=(2000, 2))
    live[:, 1] += 2.0
    monitor.update(live)
    scores = monitor.scores()
    assert scores["a"] < 0.05 < 1.0 < scores["b"]


def test_cli_bundle_command(tmp_path: Path) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(1).normal(size=(40, 4))
    joblib.dump(LogisticRegression().fit(x, x[:, 0] > 0), tmp_path / "m.joblib")
    app = typer.Typer()
    register(app)
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "bundle",
            str(tmp_path / "m.joblib"),
            "--framework",
            "sklearn",
            "--name",
            "m",
            "--version",
            "1.0.0",
            "--out",
            str(tmp_path / "b"),
            "--features",
            "a,b,c,d",
            "--allow-pickle",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert runtime.read_manifest(tmp_path / "b").input.names == ["a", "b", "c", "d"]
    assert runtime.read_manifest(tmp_path / "b").allow_pickle
    bad = runner.invoke(
        app,
        [
            "bundle",
            str(tmp_path / "m.joblib"),
            "--framework",
            "sklearn",
            "--name",
            "m",
            "--version",
            "1.0.0",
            "--out",
            str(tmp_path / "c"),
            "--features",
            "a,b",
            "--allow-pickle",
        ],
    )
    assert bad.exit_code == 2
    assert "input schema has 2 features but the model expects 4" in bad.output
    shaped = runner.invoke(
        app,
        [
            *("bundle", str(tmp_path / "m.joblib"), "--framework", "sklearn", "--name", "m"),
            *("--version", "1.0.0", "--out", str(tmp_path / "d"), "--shape", "2,x"),
        ],
    )
    assert shaped.exit_code == 2
    assert "--shape '2,x': expected comma-separated integers" in shaped.output
    missing = runner.invoke(app, ["serve", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2
    assert "no inferstack.yaml" in missing.output


def test_every_setting_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "runtime.md").read_text()
    for field in RuntimeSettings.model_fields:
        assert f"`INFERSTACK_{field.upper()}`" in doc, field
    for name in (
        "SAGEMAKER_BIND_TO_PORT",
        "SAGEMAKER_MODEL_SERVER_WORKERS",
        "SM_MODEL_DIR",
        "SAGEMAKER_MODEL_SERVER_TIMEOUT",
    ):
        assert name in doc


def test_drift_window_keeps_the_last_rows() -> None:
    rng = np.random.default_rng(3)
    ref = profile(rng.normal(size=(1000, 3)), ["a", "b", "c"], bins=7)
    monitor = DriftMonitor(ref, ["a", "b", "c"], window=300, min_rows=1)
    live = rng.normal(size=(500, 3)) * 2
    for chunk in np.array_split(live, 7):
        monitor.update(chunk)
    kept = monitor._inputs.values()
    assert kept is not None
    np.testing.assert_array_equal(kept, live[-300:])
    ring = monitor._inputs._ring
    assert ring is not None
    assert len(ring) == 300  # allocated once, the window's size


def test_healthcheck_probes_the_address_the_server_binds() -> None:
    import runpy

    script = Path(__file__).resolve().parents[3] / "runtime" / "docker" / "healthcheck.py"
    probe_url = runpy.run_path(str(script))["probe_url"]
    assert probe_url({}) == "http://127.0.0.1:8080/ping"
    assert probe_url({"INFERSTACK_HOST": "0.0.0.0", "SAGEMAKER_BIND_TO_PORT": "9000"}) == (
        "http://127.0.0.1:9000/ping"
    )
    assert probe_url({"INFERSTACK_HOST": "10.0.0.5", "INFERSTACK_PORT": "8081"}) == (
        "http://10.0.0.5:8081/ping"
    )
    assert probe_url({"INFERSTACK_HOST": "fd00::5"}) == "http://[fd00::5]:8080/ping"
