"""The runtime image carries the capture sink's SDK as an inferstack extra."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.components.image.build import flavor
from inferstack.components.image.context import plan_build
from inferstack.components.image.install import capture_extra
from inferstack.components.image.source import ImageError
from tests.components.test_image_install import _bundle


def test_capture_extra_joins_the_frameworks_and_changes_the_tag(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "b", "sklearn")
    plain = plan_build(bundle, "m", "1.0.0", flavor(False, "base:1"), tmp_path / "s")
    captured = plan_build(
        bundle, "m", "1.0.0", flavor(False, "base:1"), tmp_path / "s", extras=("capture-s3",)
    )
    assert plain.build_args["EXTRAS"] == "runtime,sklearn"
    assert captured.build_args["EXTRAS"] == "runtime,sklearn,capture-s3"
    assert captured.tag != plain.tag


def test_capture_extras_by_scheme_and_bad_ones_named(tmp_path: Path) -> None:
    assert [capture_extra(s) for s in ("s3", "gs", "https")] == [
        "capture-s3",
        "capture-gcs",
        "capture-azure",
    ]
    with pytest.raises(ImageError, match="no capture sink for 'ftp://'"):
        capture_extra("ftp")
    with pytest.raises(ImageError, match="image extra 'x y'"):
        plan_build(
            _bundle(tmp_path / "b", "custom"), "m", "1.0.0", flavor(False, "b:1"), extras=("x y",)
        )
