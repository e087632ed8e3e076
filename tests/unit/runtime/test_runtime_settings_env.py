"""Settings from the environment without pydantic-settings: the same rules it applied."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from inferstack.runtime.settings import RuntimeSettings


def test_keywords_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERSTACK_PORT", "7070")
    monkeypatch.setenv("INFERSTACK_BUNDLE_DIR", "/from/env")
    s = RuntimeSettings(port=9000)
    assert s.port == 9000
    assert s.bundle_dir == Path("/from/env")
    assert RuntimeSettings(INFERSTACK_PORT=9001).port == 9001


def test_the_first_name_set_wins_and_case_does_not_matter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SM_MODEL_DIR", "/sagemaker")
    assert RuntimeSettings().bundle_dir == Path("/sagemaker")
    monkeypatch.setenv("inferstack_bundle_dir", "/ours")
    assert RuntimeSettings().bundle_dir == Path("/ours")
    monkeypatch.setenv("INFERSTACK_FAST_PATH", "false")
    monkeypatch.setenv("INFERSTACK_MAX_BATCH_WAIT_MS", "2.5")
    s = RuntimeSettings()
    assert (s.fast_path, s.max_batch_wait_ms) == (False, 2.5)


def test_a_bad_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INFERSTACK_MAX_BATCH_SIZE", "lots")
    with pytest.raises(ValidationError, match="INFERSTACK_MAX_BATCH_SIZE"):
        RuntimeSettings()
    with pytest.raises(ValidationError, match="frozen"):
        RuntimeSettings(max_batch_size=3).port = 1  # type: ignore[misc]
