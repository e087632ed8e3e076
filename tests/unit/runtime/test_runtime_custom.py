"""Custom predictors: the user's module is imported from the bundle folder."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from inferstack.runtime.loaders.custom import import_predictor


def test_a_predictor_imports_a_helper_module_shipped_beside_it(tmp_path: Path) -> None:
    (tmp_path / "scoring_rules_0f3a.py").write_text("def double(x):\n    return x * 2\n")
    (tmp_path / "predictor.py").write_text(
        "import scoring_rules_0f3a\n\n"
        "class P:\n"
        "    def predict(self, batch):\n"
        "        return scoring_rules_0f3a.double(batch)\n"
    )
    try:
        cls = import_predictor(tmp_path, "predictor:P")
        assert cls().predict(np.array([1.5])).tolist() == [3.0]
        assert sys.path[-1] == str(tmp_path.resolve())  # after installed packages
    finally:
        sys.path.remove(str(tmp_path.resolve()))
        sys.modules.pop("scoring_rules_0f3a", None)
