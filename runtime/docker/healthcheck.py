"""Docker HEALTHCHECK: healthy once the server answers /ping with 200 (model loaded)."""

import os
import sys
import urllib.request
from collections.abc import Mapping

_WILDCARDS = ("", "0.0.0.0", "::")  # noqa: S104 (addresses compared, not bound)


def probe_url(env: Mapping[str, str]) -> str:
    """Where the server listens: its own address, or loopback when it binds them all."""
    port = env.get("INFERSTACK_PORT") or env.get("SAGEMAKER_BIND_TO_PORT") or "8080"
    host = env.get("INFERSTACK_HOST", "")
    host = "127.0.0.1" if host in _WILDCARDS else host
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/ping"


def main() -> int:
    try:
        with urllib.request.urlopen(probe_url(os.environ), timeout=2) as response:  # noqa: S310
            return 0 if response.status == 200 else 1
    except OSError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
