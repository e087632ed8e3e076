"""`inferstack serve` and `inferstack bundle`: the runtime's commands.

Heavy imports happen inside the commands, so the CLI starts where only the core
dependencies are installed, and a missing runtime extra is named when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inferstack.components.cli.output import EXIT_USAGE, console, fail
from inferstack.runtime.cli_options import bundle_options
from inferstack.runtime.contract import DEFAULT_DTYPE


def register(app: typer.Typer) -> None:
    """Add ``serve`` and ``bundle`` to a typer app."""
    app.command("serve")(serve)
    app.command("bundle")(bundle_cmd)
    app.command("compose")(compose_cmd)


def serve(
    bundle_dir: Annotated[Path, typer.Argument(help="Bundle folder (holds inferstack.yaml).")],
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on [default: INFERSTACK_HOST or 127.0.0.1]."),
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on [default: INFERSTACK_PORT or 8080].")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes [default: INFERSTACK_WORKERS or 1].")
    ] = None,
    grpc_port: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=65535,
            help="Also serve V2 over gRPC on this port (one worker; needs the grpc extra) "
            "[default: INFERSTACK_GRPC_PORT or off].",
        ),
    ] = None,
    api_key_file: Annotated[
        Path | None, typer.Option(help="File of API keys or sha256: hashes, one per line.")
    ] = None,
    allow_version_mismatch: Annotated[
        bool | None,
        typer.Option(
            "--allow-version-mismatch",
            help="Load a bundle saved under another major version of its framework "
            "[default: INFERSTACK_ALLOW_VERSION_MISMATCH or off].",
        ),
    ] = None,
) -> None:
    """Serve a model bundle locally (no Docker), until Ctrl-C or SIGTERM."""
    from inferstack.runtime.errors import InferstackError
    from inferstack.runtime.manifest import read_manifest

    try:
        from inferstack.runtime.server import serve as run_server
        from inferstack.runtime.settings import RuntimeSettings
    except ModuleNotFoundError as err:
        raise _missing_runtime(err) from err

    try:
        read_manifest(bundle_dir)
    except InferstackError as err:
        raise fail(err.message, EXIT_USAGE) from err
    given = {
        "host": host,
        "port": port,
        "workers": workers,
        "grpc_port": grpc_port,
        "api_key_file": api_key_file,
        "allow_version_mismatch": allow_version_mismatch,
    }
    overrides = {"bundle_dir": bundle_dir, **{k: v for k, v in given.items() if v is not None}}
    run_server(RuntimeSettings(**overrides))  # type: ignore[arg-type]


def bundle_cmd(
    model_file: Annotated[
        Path,
        typer.Argument(help="Saved model, module.py:Class (custom) or an MLflow model folder."),
    ],
    name: Annotated[str, typer.Option(help="Model name (lowercase, digits, - _ .).")],
    version: Annotated[str, typer.Option(help="Semantic version, e.g. 1.0.0.")],
    out: Annotated[Path, typer.Option(help="Folder to write the bundle to.")],
    framework: Annotated[
        str | None,
        typer.Option(
            help="sklearn, xgboost, lightgbm, onnx, pytorch or custom "
            "(an MLflow model's flavour by default)."
        ),
    ] = None,
    features: Annotated[
        str | None,
        typer.Option(
            help="Features in order: name or name:dtype, comma-separated (default: from the model)."
        ),
    ] = None,
    sample: Annotated[
        Path | None,
        typer.Option(help="A .csv or .parquet sample of the data: feature names and dtypes."),
    ] = None,
    reference: Annotated[
        Path | None,
        typer.Option(
            help="A .csv or .parquet of typical input rows: the drift reference (feature "
            "profiles and the model's prediction distribution on them)."
        ),
    ] = None,
    shape: Annotated[str | None, typer.Option(help="Per-row tensor shape, e.g. 3,32,32.")] = None,
    dtype: Annotated[
        str, typer.Option(help="Input dtype, the default of features named without one.")
    ] = DEFAULT_DTYPE,
    allow_nan: Annotated[bool, typer.Option(help="Accept NaN inputs.")] = False,
    output: Annotated[
        str | None,
        typer.Option(help="probabilities, label, value or raw (default: from the model)."),
    ] = None,
    files: Annotated[
        list[Path] | None,
        typer.Option("--files", help="A file to ship beside the model (repeatable)."),
    ] = None,
    requirements: Annotated[
        Path | None, typer.Option(help="A requirements file of extra pip packages to keep.")
    ] = None,
    max_batch_size: Annotated[
        int | None,
        typer.Option(
            help="Most rows per model call [default: 256 for sklearn, xgboost and lightgbm, "
            "else 64]."
        ),
    ] = None,
    max_wait_ms: Annotated[
        float | None, typer.Option(help="Longest wait for batch mates [default: 1 ms].")
    ] = None,
    description: Annotated[str, typer.Option(help="Free text kept in the manifest.")] = "",
    skops_trust: Annotated[
        str | None, typer.Option(help="Comma-separated types to trust in a .skops artifact.")
    ] = None,
    allow_pickle: Annotated[
        bool,
        typer.Option(
            "--allow-pickle",
            help="Accept a pickle-based artifact (.joblib, .pkl): a pickle is code, loading it "
            "runs whatever it holds, here and in every server. Recorded in the manifest. "
            "Only for files you made or trust; prefer .skops.",
        ),
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty output folder.")] = False,
) -> None:
    """Create a bundle from a model file and check that it loads and predicts.

    A pickle is code: loading a .joblib or .pkl file runs whatever it holds, so such a
    file is refused unless you pass --allow-pickle (then it is loaded here, to check it,
    and by every server). Save scikit-learn models with skops (.skops) instead. The
    bundle records each file's SHA-256; a server refuses files that changed since.
    """
    from inferstack.runtime.errors import InferstackError

    try:
        from inferstack.runtime.bundling import bundle
    except ModuleNotFoundError as err:
        raise _missing_runtime(err) from err

    try:
        options = bundle_options(
            name=name,
            version=version,
            framework=framework,
            features=features,
            sample=sample,
            shape=shape,
            dtype=dtype,
            output=output,
            files=files or [],
            requirements=requirements,
            reference=reference,
        )
        batching = {"max_batch_size": max_batch_size, "max_wait_ms": max_wait_ms}
        path = bundle(
            str(model_file),
            name=name,
            version=version,
            out=out,
            allow_nan=allow_nan,
            batching={k: v for k, v in batching.items() if v is not None} or None,
            description=description,
            skops_trusted=skops_trust.split(",") if skops_trust else (),
            allow_pickle=allow_pickle,
            overwrite=overwrite,
            **options,
        )
    except InferstackError as err:
        raise fail(err.message, EXIT_USAGE) from err
    console.print(f"bundle written to {path}", highlight=False)


def compose_cmd(
    kind: Annotated[str, typer.Argument(help="pipeline, mean, weighted_mean, vote or stacking.")],
    part: Annotated[
        list[str],
        typer.Option("--part", help="NAME=BUNDLE_FOLDER, in order (repeatable)."),
    ],
    name: Annotated[str, typer.Option(help="Model name of the composed bundle.")],
    version: Annotated[str, typer.Option(help="Semantic version, e.g. 1.0.0.")],
    out: Annotated[Path, typer.Option(help="Folder to write the composed bundle to.")],
    weights: Annotated[
        str | None, typer.Option(help="weighted_mean: one weight per part, comma-separated.")
    ] = None,
    stacker: Annotated[
        str | None, typer.Option(help="stacking: NAME=BUNDLE_FOLDER of the stacking model.")
    ] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a non-empty output folder.")] = False,
) -> None:
    """Build one bundle from part bundles: a pipeline or an ensemble, served as one model."""
    from inferstack.runtime.errors import InferstackError

    try:
        from inferstack.runtime.composed import compose
    except ModuleNotFoundError as err:
        raise _missing_runtime(err) from err

    def pair(text: str, option: str) -> tuple[str, str]:
        label, sep, folder = text.partition("=")
        if not sep or not label or not folder:
            raise fail(f"{option} '{text}': expected NAME=BUNDLE_FOLDER", EXIT_USAGE)
        return label, folder

    parts = dict(pair(p, "--part") for p in part)
    try:
        weight_values = [float(w) for w in weights.split(",")] if weights else None
    except ValueError as err:
        raise fail(f"--weights '{weights}': expected comma-separated numbers", EXIT_USAGE) from err
    if kind not in ("pipeline", "mean", "weighted_mean", "vote", "stacking"):
        raise fail(
            f"kind '{kind}': expected pipeline, mean, weighted_mean, vote or stacking", EXIT_USAGE
        )
    try:
        path = compose(
            kind,  # type: ignore[arg-type]
            dict(parts),
            name=name,
            version=version,
            out=out,
            weights=weight_values,
            stacker=pair(stacker, "--stacker") if stacker else None,
            overwrite=overwrite,
        )
    except InferstackError as err:
        raise fail(err.message, EXIT_USAGE) from err
    console.print(f"composed bundle written to {path}", highlight=False)


def _missing_runtime(err: ModuleNotFoundError) -> typer.Exit:
    return fail(
        f"the runtime needs the package {err.name!r}: pip install 'inferstack[runtime]' "
        "(plus the framework extra, e.g. 'inferstack[sklearn]')",
        EXIT_USAGE,
    )
