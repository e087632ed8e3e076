"""Publishing a bundle: a generated model card, then the Hugging Face Hub or S3.

The card is made with huggingface_hub's `ModelCardData` (the hub's metadata block:
library, tags, license, `model-index` with the metrics) and a body that states the
framework, version, input schema and intended use. The bundle's files are checked
against its recorded digests before anything leaves the machine.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferstack.components.lifecycle.seam import LifecycleError

CARD_NAME = "README.md"
Progress = Callable[[str, int, int], None]
"""(file, bytes done, bytes total) after each piece of an upload."""


@dataclass(frozen=True)
class CardInfo:
    """What the card says beyond the bundle's manifest."""

    metrics: dict[str, float] = field(default_factory=dict)
    """Evaluation metrics by name (e.g. accuracy, roc_auc)."""
    dataset: str = "held-out validation set"
    """The data the metrics were measured on."""
    intended_use: str = ""
    """Who should use the model for what (default: the manifest's description)."""
    license: str | None = None
    """An SPDX-like license id the hub knows (e.g. apache-2.0)."""


def _manifest(bundle: Path) -> Any:
    from inferstack.runtime.errors import BundleError
    from inferstack.runtime.integrity import check_files
    from inferstack.runtime.manifest import read_manifest

    try:
        manifest = read_manifest(bundle)
        check_files(bundle, manifest)
    except BundleError as err:
        raise LifecycleError(f"cannot publish {bundle}: {err}") from err
    return manifest


def _task(output_kind: str) -> str:
    return "tabular-regression" if output_kind in {"raw", "values"} else "tabular-classification"


def model_card(bundle: Path, info: CardInfo) -> Any:
    """The bundle's model card (a huggingface_hub `ModelCard`)."""
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    manifest = _manifest(bundle)
    task = _task(manifest.output.kind)
    data = ModelCardData(
        model_name=manifest.name,
        library_name=manifest.framework,
        license=info.license,
        tags=["inferstack", manifest.framework, task, f"version-{manifest.version}"],
        pipeline_tag=task,
        metrics=sorted(info.metrics) or None,
        eval_results=[
            EvalResult(
                task_type=task,
                dataset_type="custom",
                dataset_name=info.dataset,
                metric_type=name,
                metric_value=value,
            )
            for name, value in sorted(info.metrics.items())
        ]
        or None,
    )
    schema = manifest.input
    rows = "\n".join(f"| {n} | {d} |" for n, d in zip(schema.names, schema.dtypes, strict=True))
    metrics = "\n".join(
        f"| {k} | {v:g} | {info.dataset} |" for k, v in sorted(info.metrics.items())
    )
    use = info.intended_use or manifest.description or "Not stated."
    names = manifest.output.names
    output = manifest.output.kind + (f" ({', '.join(names)})" if names else "")
    nan = "allowed" if schema.allow_nan else "refused"
    table = f"| metric | value | data |\n|---|---|---|\n{metrics}" if metrics else "None given."
    body = f"""
# {manifest.name} {manifest.version}

An [inferstack](https://github.com/inferstack/inferstack) bundle: a {manifest.framework} model
with its manifest (`inferstack.yaml`), served by `inferstack serve` or the runtime image.

- **Framework:** {manifest.framework}
- **Version:** {manifest.version}
- **Output:** {output}

## Intended use

{use}

## Input schema

{len(schema.names)} feature(s), row shape {list(schema.row_shape)}, NaN {nan}.

| feature | dtype |
|---|---|
{rows}

## Metrics

{table}
"""
    return ModelCard(f"---\n{data.to_yaml()}\n---\n{body}")


@contextmanager
def staged(bundle: Path, card: Any) -> Iterator[Path]:
    """A temporary copy of the bundle with the card as README.md."""
    with tempfile.TemporaryDirectory(prefix="inferstack-publish-") as tmp:
        folder = Path(tmp) / bundle.name
        shutil.copytree(bundle, folder, ignore=shutil.ignore_patterns("__pycache__", ".*"))
        (folder / CARD_NAME).write_text(str(card))
        yield folder


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def to_huggingface(
    bundle: Path,
    repo_id: str,
    card: Any,
    *,
    endpoint: str | None = None,
    token: str | None = None,
    private: bool = True,
    progress: Progress = lambda _f, _d, _t: None,
) -> str:
    """Create (if need be) model repo `repo_id` and commit the bundle and its card to it;
    returns the commit's URL."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(endpoint=endpoint, token=token)
    manifest = _manifest(bundle)
    with staged(bundle, card) as folder:
        total = sum(p.stat().st_size for p in _files(folder))
        try:
            api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
            progress("create repo", 0, total)
            info = api.upload_folder(
                repo_id=repo_id,
                folder_path=folder,
                repo_type="model",
                commit_message=f"{manifest.name} {manifest.version} (inferstack publish)",
            )
        except HfHubHTTPError as err:
            raise LifecycleError(f"upload to {repo_id} failed: {err}") from err
        progress("commit", total, total)
    return str(info.commit_url)


def to_s3(
    bundle: Path,
    uri: str,
    card: Any,
    *,
    client: Any = None,
    progress: Progress = lambda _f, _d, _t: None,
) -> list[str]:
    """Upload the bundle and its card under `uri` (s3://bucket/prefix), in
    `<prefix>/<name>/<version>/`; returns the object keys."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    if not uri.startswith("s3://") or not uri[5:].split("/", 1)[0]:
        raise LifecycleError(f"--to s3 needs --uri s3://bucket[/prefix], got {uri!r}")
    bucket, _, prefix = uri[5:].partition("/")
    manifest = _manifest(bundle)
    base = "/".join(p for p in (prefix.strip("/"), manifest.name, manifest.version) if p)
    client = client or boto3.client("s3")
    keys = []
    with staged(bundle, card) as folder:
        files = _files(folder)
        total, done = sum(p.stat().st_size for p in files), 0
        for path in files:
            key = f"{base}/{path.relative_to(folder).as_posix()}"

            def sent(chunk: int, name: str = path.name) -> None:
                nonlocal done
                done += chunk
                progress(name, done, total)

            try:
                client.upload_file(str(path), bucket, key, Callback=sent)
            except (BotoCoreError, ClientError) as err:
                raise LifecycleError(f"upload to s3://{bucket}/{key} failed: {err}") from err
            keys.append(key)
    return keys
