"""Write bytecode for the modules a serving process imports, and only those.

pip's install-time compile of every module (scipy's and scikit-learn's included)
adds about 60 MB of `.pyc` to the image. Importing what the server and the usual
estimators need writes just those `.pyc` files, which keeps cold start fast and the
image small; anything else compiles in memory on first import.
"""

import compileall
import importlib
import sys
from pathlib import Path

MODULES = (
    "inferstack.runtime",
    "inferstack.runtime.app",
    "inferstack.components.cli.runtime",
    "inferstack.runtime.loaders.sklearn",
    "inferstack.runtime.loaders.onnx",
    "inferstack.runtime.loaders.xgboost",
    "inferstack.runtime.loaders.lightgbm",
    "inferstack.runtime.loaders.pytorch",
    "inferstack.runtime.frames",
    "numpy",
    "uvicorn",
    "uvicorn.loops.uvloop",
    "uvicorn.protocols.http.httptools_impl",
    "uvloop",
    "httptools",
    "orjson",
    "prometheus_client",
    "yaml",
    "pandas",
    "joblib",
    "sklearn",
    "sklearn.linear_model",
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.pipeline",
    "sklearn.preprocessing",
    "sklearn.compose",
    "sklearn.impute",
    "sklearn.svm",
    "sklearn.neighbors",
    "skops.io",
    "onnxruntime",
    "xgboost",
    "lightgbm",
    "torch",
)


def main() -> None:
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            continue  # not in this flavour, or not written yet
    import inferstack

    for folder in inferstack.__path__:
        compileall.compile_dir(Path(folder), quiet=1)
    print(f"precompiled {len(sys.modules)} modules")


if __name__ == "__main__":
    main()
