#!/usr/bin/env bash
# The README's main job: the urgent tsunami demo on the embedded default (local site, no Slurm,
# no external data). Validates and plans examples/tsunami.
set -euo pipefail
cd "$(dirname "$0")/.."
TOSCA=.venv/bin/tosca
echo "==> validating examples/tsunami"
$TOSCA validate examples/tsunami
echo "==> install plan"
$TOSCA plan examples/tsunami
echo "==> exec_job plan"
$TOSCA plan examples/tsunami --workflow exec_job
