"""saved_with, declared requirements, the version checks at start and the settings contract."""

from __future__ import annotations

import logging
import os
import platform
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from inferstack.runtime import BundleError, bundle, contract, read_manifest
from inferstack.runtime.app import check_start
from inferstack.runtime.errors import ConfigError
from inferstack.runtime.provenance import check_saved_with
from inferstack.runtime.requirements import read_requirements
from inferstack.runtime.settings import RuntimeSettings, env_names

SKLEARN = metadata.version("scikit-learn")


@pytest.fixture(scope="module")
def model() -> LogisticRegression:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3))
    return LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))


def _bundle(model: LogisticRegression, out: Path, **kwargs: object) -> Path:
    return bundle(model, framework="sklearn", name="m", version="1.0.0", out=out, **kwargs)  # type: ignore[arg-type]


def _with_version(bundle_dir: Path, version: str | None) -> None:
    path = bundle_dir / contract.MANIFEST_FILE
    data = yaml.safe_load(path.read_text())
    if version is None:
        del data["saved_with"]
    else:
        data["saved_with"]["framework_version"] = version
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_bundle_records_the_versions_that_saved_it(
    model: LogisticRegression, tmp_path: Path
) -> None:
    saved = read_manifest(_bundle(model, tmp_path / "b")).saved_with
    assert saved is not None
    assert saved.python == platform.python_version()
    assert (saved.framework, saved.framework_version) == ("scikit-learn", SKLEARN)
    assert saved.packages["joblib"] == metadata.version("joblib")
    assert saved.packages["numpy"] == np.__version__


def test_minor_mismatch_warns_major_refuses_unless_forced(
    model: LogisticRegression, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _bundle(model, tmp_path / "b")
    major, minor = (int(p) for p in SKLEARN.split(".")[:2])
    _with_version(path, f"{major}.{minor + 1}.0")
    with caplog.at_level(logging.WARNING, "inferstack"):
        warnings = check_saved_with(read_manifest(path))
    assert len(warnings) == 1
    assert f"scikit-learn {major}.{minor + 1}.0; this environment has {SKLEARN}" in warnings[0]
    assert "another minor version" in caplog.text
    _with_version(path, f"{major - 1}.{minor}.0")
    with pytest.raises(BundleError, match=rf"scikit-learn {major - 1}\.{minor}\.0.*{SKLEARN}"):
        check_saved_with(read_manifest(path))
    assert "another major version" in check_saved_with(read_manifest(path), True)[0]
    _with_version(path, SKLEARN.split("+")[0])
    assert check_saved_with(read_manifest(path)) == []


def test_old_bundle_without_saved_with_loads_with_one_info_line(
    model: LogisticRegression, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _bundle(model, tmp_path / "b")
    _with_version(path, None)
    with caplog.at_level(logging.INFO, "inferstack"):
        assert check_saved_with(read_manifest(path)) == []
    lines = [r for r in caplog.records if "versions" in r.getMessage()]
    assert len(lines) == 1
    assert lines[0].levelno == logging.INFO


def test_expected_model_version_is_enforced(model: LogisticRegression, tmp_path: Path) -> None:
    manifest = read_manifest(_bundle(model, tmp_path / "b"))
    check_start(manifest, RuntimeSettings(model_version="1.0.0"))
    with pytest.raises(ConfigError, match=r"INFERSTACK_MODEL_VERSION is 1\.2\.0.*version 1\.0\.0"):
        check_start(manifest, RuntimeSettings(model_version="1.2.0"))


def test_requirements_are_kept_in_the_bundle(model: LogisticRegression, tmp_path: Path) -> None:
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("# what the model needs\npandas>=2.0\n\nscikit-learn==1.*  # pinned\n")
    path = _bundle(model, tmp_path / "b", requirements=reqs)
    assert read_manifest(path).requirements == ("pandas>=2.0", "scikit-learn==1.*")
    assert (path / "requirements.txt").read_text() == "pandas>=2.0\nscikit-learn==1.*\n"
    listed = _bundle(model, tmp_path / "c", requirements=["tokenizers>=0.19"])
    assert read_manifest(listed).requirements == ("tokenizers>=0.19",)
    plain = _bundle(model, tmp_path / "d")
    assert read_manifest(plain).requirements == ()
    assert not (plain / "requirements.txt").exists()


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (["pandas>=2", "pandas>=>2"], r"line 2: 'pandas>=>2' is not a requirement"),
        (["-r other.txt"], r"line 1: pip options are not supported"),
        (["ok", "", "not a package!"], r"line 3: 'not a package!'"),
    ],
)
def test_bad_requirement_lines_are_refused_by_number(lines: list[str], message: str) -> None:
    with pytest.raises(BundleError, match=message):
        read_requirements(lines)


def test_bad_requirements_file_refuses_the_bundle(
    model: LogisticRegression, tmp_path: Path
) -> None:
    reqs = tmp_path / "reqs.txt"
    reqs.write_text("numpy\n===\n")
    with pytest.raises(BundleError, match=r"reqs\.txt' line 2"):
        _bundle(model, tmp_path / "b", requirements=reqs)
    assert not (tmp_path / "b").exists()


def test_settings_read_exactly_the_contract_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    assert env_names() == contract.RUNTIME_ENV
    for name in os.environ:
        if name.startswith(contract.ENV_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv(contract.Env.ENVIRONMENT, "staging")
    monkeypatch.setenv(contract.Env.MODEL_VERSION, "2.0.0")
    monkeypatch.setenv(contract.Env.ALLOW_VERSION_MISMATCH, "true")
    s = RuntimeSettings()
    assert (s.environment, s.model_version, s.allow_version_mismatch) == ("staging", "2.0.0", True)
    monkeypatch.setenv(contract.Env.ENVIRONMENT, "qa")
    with pytest.raises(ValueError, match="INFERSTACK_ENVIRONMENT"):
        RuntimeSettings()
