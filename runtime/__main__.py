"""``python -m inferstack.runtime serve [BUNDLE_DIR]``: the container's entry point.

Follows the SageMaker contract: the bundle defaults to ``/opt/ml/model`` and the port
to 8080 (``SAGEMAKER_BIND_TO_PORT`` moves it). Everything else comes from
``INFERSTACK_*`` variables (see ``RuntimeSettings``).
"""

from __future__ import annotations

import sys

USAGE = "usage: python -m inferstack.runtime serve [BUNDLE_DIR]"


def main(argv: list[str] | None = None) -> int:
    """Parse ``serve [BUNDLE_DIR]`` and run the server."""
    args = sys.argv[1:] if argv is None else argv
    if (
        not args
        or args[0] != "serve"
        or len(args) > 2
        or (len(args) == 2 and args[1].startswith("-"))
    ):
        print(USAGE, file=sys.stderr)
        return 2
    from inferstack.runtime.server import serve
    from inferstack.runtime.settings import RuntimeSettings

    overrides = {"bundle_dir": args[1]} if len(args) == 2 else {}
    serve(RuntimeSettings(**overrides))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
