"""Azure ML's batch scoring script: `init()` once per process, `run(mini_batch)` per mini-batch.

A batch deployment of a custom model calls these two functions ("Author scoring scripts
for batch deployments"). Each input file of a mini-batch is scored with
`runtime.scoring.score` (the server's loader, schema checks and output format) into its
own folder under the job's output (`AZUREML_BI_OUTPUT_PATH`): part files, rejects with
the reason per row, `_SUCCESS`; the deployment's output action is `summary_only`, so
Azure ML writes nothing else there. A mini-batch retried after a low-priority node was
preempted resumes from the chunks already finished (the folder's ledger).

The bundle is the one baked into the image (`/opt/ml/model`, as the online deployment
serves it); `INFERSTACK_MODEL_VERSION` makes a bundle of another version fail `init()`.
"""

from __future__ import annotations

import os
from pathlib import Path

from inferstack.runtime.batch_job import output_folder
from inferstack.runtime.errors import ConfigError
from inferstack.runtime.manifest import read_manifest
from inferstack.runtime.model import ServedModel, load_bundle
from inferstack.runtime.scoring import score
from inferstack.runtime.settings import RuntimeSettings

OUTPUT_ENV = "AZUREML_BI_OUTPUT_PATH"
"""Where Azure ML's batch driver tells a scoring script to write its own files."""

_STATE: dict[str, object] = {}


def init() -> None:
    """Read the settings, check the bundle's version and load it once (its probe runs),
    so a broken bundle fails the job before any mini-batch; every mini-batch's files are
    scored with that model."""
    settings = RuntimeSettings()
    manifest = read_manifest(settings.bundle_dir)
    if settings.model_version and manifest.version != settings.model_version:
        raise ConfigError(
            f"the image's bundle is {manifest.name} {manifest.version}, the deployment "
            f"expects version {settings.model_version}; rebuild the image or redeploy"
        )
    model = load_bundle(settings.bundle_dir, allow_pickle=settings.allow_pickle)
    output = os.environ.get(OUTPUT_ENV)
    if not output:
        raise ConfigError(f"{OUTPUT_ENV} is not set: run this script as a batch deployment's")
    _STATE.update(settings=settings, output=Path(output), model=model)


def run(mini_batch: list[str]) -> list[str]:
    """Score each file of the mini-batch; one summary line per file (`file,rows,rejected`),
    which Azure ML counts as that file's success."""
    if "settings" not in _STATE:
        raise ConfigError("run() before init(): the batch driver calls init() first")
    settings = _STATE["settings"]
    assert isinstance(settings, RuntimeSettings)
    root = _STATE["output"]
    assert isinstance(root, Path)
    model = _STATE["model"]
    assert isinstance(model, ServedModel)
    lines = []
    for path in mini_batch:
        result = score(
            settings.bundle_dir,
            path,
            output_folder(root, str(path)),
            workers=0,  # the driver runs max_concurrency_per_instance processes itself
            model=model,  # loaded once, in init()
        )
        lines.append(f"{Path(path).name},{result.rows},{result.rejected}")
    return lines


__all__ = ["init", "output_folder", "run"]
