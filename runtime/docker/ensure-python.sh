#!/bin/sh
# Make sure the base image has Python 3.11+ (and venv with --venv). The default
# python:3.11-slim and the Debian rootfs base already do; CUDA bases get it from apt.
set -eu
want_venv=${1:-}
if python3 -c 'import sys; assert sys.version_info >= (3, 11)' 2>/dev/null \
   && { [ "$want_venv" != "--venv" ] || python3 -c 'import ensurepip, venv' 2>/dev/null; }; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "ensure-python: the base image lacks Python 3.11+ and apt-get" >&2
  exit 1
fi
apt-get update -q
if [ "$want_venv" = "--venv" ]; then pkgs="python3 python3-venv"; else pkgs="python3"; fi
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $pkgs ca-certificates
rm -rf /var/lib/apt/lists/*
python3 -c 'import sys; assert sys.version_info >= (3, 11), sys.version'
