#!/usr/bin/env bash
# The README's main job: the urgent tsunami forecast on the embedded default (local site, no
# Slurm, no external data). Deploys examples/tsunami, then triggers its exec_job workflow with a
# bundled earthquake alert, as the emergency hook would, and prints where the products are.
#   EVENT=path/to/alert.json BATHYMETRY=grid.nc SCENARIOS=8 make demo   to change the inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
TOSCA=.venv/bin/tosca
WS=${DEMO_WORKSPACE:-.tosca-demo}
EVENT=${EVENT:-examples/events/messina_m7.json}
start=$(date +%s)

rm -rf "$WS"
echo "==> [1/3] validating examples/tsunami"
$TOSCA validate examples/tsunami
echo "==> [2/3] deploying examples/tsunami on the local site (workspace $WS)"
deploy_inputs=()
[ -n "${BATHYMETRY:-}" ] && deploy_inputs+=(-i "bathymetry=$BATHYMETRY")
$TOSCA deploy examples/tsunami --workspace "$WS" "${deploy_inputs[@]}"
echo "==> [3/3] alert received ($EVENT): running the urgent forecast (exec_job)"
run_inputs=(-i "event_file=$EVENT")
[ -n "${SCENARIOS:-}" ] && run_inputs+=(-i "scenarios=$SCENARIOS")
$TOSCA workflows run exec_job --workspace "$WS" "${run_inputs[@]}"
products=$($TOSCA outputs --workspace "$WS" -o json | .venv/bin/python -c \
  'import json, sys; print(json.load(sys.stdin).get("products", ""))')
echo
echo "Urgent tsunami forecast done in $(( $(date +%s) - start )) s."
echo "Products (maps, tables, NetCDF, summary): $products"
[ -f "$products/summary.json" ] && echo "Summary: $products/summary.json"
