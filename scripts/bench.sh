#!/usr/bin/env bash
# Runs every benchmark in benchmarks/ and collects each one's last line (a JSON object).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${BENCH_OUT:-benchmarks/results.jsonl}
: > "$out"
for b in benchmarks/*.py; do
  echo "==> $b"
  if .venv/bin/python "$b" | tee /tmp/bench.$$; then
    tail -n 1 /tmp/bench.$$ | sed "s|^|{\"benchmark\": \"$(basename "$b" .py)\", \"result\": |; s|$|}|" >> "$out"
  else
    echo "benchmark $b failed" >&2
  fi
done
rm -f /tmp/bench.$$
echo "results in $out"
