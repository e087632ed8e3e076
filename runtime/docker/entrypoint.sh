#!/bin/sh
# The image's entrypoint. SageMaker starts containers as `docker run IMAGE serve`;
# `serve [BUNDLE_DIR]` runs the inference server (bundle default /opt/ml/model, port
# 8080 or $SAGEMAKER_BIND_TO_PORT). Anything else runs as a command, e.g. `bash`.
set -eu
if [ "${1:-serve}" = "serve" ]; then
  [ "$#" -gt 0 ] && shift
  # exec: the server is PID 1 and receives SIGTERM from `docker stop` itself.
  exec python -m inferstack.runtime serve "$@"
fi
exec "$@"
