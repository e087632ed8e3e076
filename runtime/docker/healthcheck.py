"""Docker HEALTHCHECK: healthy once the server answers /ping with 200 (model loaded)."""

import os
import sys
import urllib.request

port = os.environ.get("INFERSTACK_PORT") or os.environ.get("SAGEMAKER_BIND_TO_PORT") or "8080"
try:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError:
    sys.exit(1)
