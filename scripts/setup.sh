#!/usr/bin/env bash
# Create .venv and install the toolkit with its development tools.
# Idempotent; on a fresh Debian 12 installs the Python tool-chain from Debian first.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3 python3-venv python3-dev gcc >/dev/null
fi
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q -U pip wheel setuptools
  .venv/bin/pip install -q -e ".[dev]"
  rm -f .venv/.installed-*; touch "$stamp"
fi
# Byte-compile the project once: some environments set PYTHONDONTWRITEBYTECODE, and then
# every CLI start would recompile ~50 modules (~0.13 s). Stale files are ignored by Python.
.venv/bin/python -m compileall -q orchestrator workflows >/dev/null || true
