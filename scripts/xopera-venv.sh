#!/usr/bin/env bash
# Create .venv-xopera with xOpera 0.7.0, the baseline of benchmarks/deploy_vs_xopera.py.
# xOpera 0.7.0 pins PyYAML 5.4.1, which only builds with Cython < 3 and without build isolation,
# and it needs an ansible-core older than ours (< 2.17), hence its own virtual environment.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${XOPERA_VENV:-.venv-xopera}"
PYTHON="${PYTHON:-python3}"
if [ -x "$VENV/bin/opera" ] && "$VENV/bin/opera" --version >/dev/null 2>&1; then
  echo "xOpera already installed in $VENV"
  exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q "cython<3" wheel setuptools
"$VENV/bin/pip" install -q --no-build-isolation pyyaml==5.4.1
"$VENV/bin/pip" install -q opera==0.7.0 "ansible-core<2.17"
"$VENV/bin/opera" --version
