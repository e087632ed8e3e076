"""A small PyTorch MLP, scripted with TorchScript.

python examples/pytorch-mlp/train.py           # writes examples/pytorch-mlp/bundle
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.datasets import make_classification

from inferstack.runtime import bundle

HERE = Path(__file__).resolve().parent


class Mlp(torch.nn.Module):
    """Two linear layers and a softmax."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(width, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.net(x), dim=1)


def build(out: Path) -> tuple[Path, Any, np.ndarray]:
    """Train briefly, script, bundle to ``out``; returns the bundle, the module and rows."""
    torch.manual_seed(0)
    x, y = make_classification(n_samples=600, n_features=6, random_state=4)
    x = x.astype(np.float32)
    model = Mlp(6)
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    xt, yt = torch.from_numpy(x[:500]), torch.from_numpy(y[:500])
    for _ in range(50):
        opt.zero_grad()
        loss = torch.nn.functional.nll_loss(torch.log(model(xt) + 1e-9), yt)
        loss.backward()
        opt.step()
    with warnings.catch_warnings():  # TorchScript is deprecated upstream but still the format
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = torch.jit.script(model.eval())
    path = bundle(
        scripted,
        framework="pytorch",
        name="torch-mlp",
        version="1.0.0",
        out=out,
        features=[f"f{i}" for i in range(6)],
        dtype="float32",
        output="probabilities",
        overwrite=True,
    )

    def scorer(rows: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return scripted(torch.from_numpy(rows.astype(np.float32))).numpy()

    return path, scorer, x[500:]


if __name__ == "__main__":
    print(build(HERE / "bundle")[0])
