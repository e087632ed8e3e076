"""The explain module's pieces on their own: the missing extra, windows and shares."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from inferstack.runtime.errors import MissingExtraError
from inferstack.runtime.explain import AttributionWindow, _shap, shares


def test_a_missing_shap_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "shap", None)  # import shap raises ImportError
    with pytest.raises(MissingExtraError, match=r"pip install 'inferstack\[explain\]'"):
        _shap()


def test_the_window_keeps_the_last_rows_and_sums_outputs() -> None:
    window = AttributionWindow(["a", "b"], size=2)
    assert window.means() == {}
    window.add(np.array([[100.0, 100.0]]))
    window.add(np.array([[1.0, -3.0], [-1.0, 1.0]]))  # the first row leaves the window
    assert window.means() == {"a": 1.0, "b": 2.0}
    window.add(np.array([[[1.0, -1.0], [0.0, 2.0]]]))  # one row, two outputs
    assert window.means() == {"a": 1.5, "b": 1.5}
    assert shares({"a": 1.0, "b": 3.0}) == {"a": 0.25, "b": 0.75}
    assert shares({"a": 0.0}) == {"a": 0.0}
