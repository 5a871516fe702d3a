#!/usr/bin/env bash
# STEVE on Pendulum-v1 against its own ablations (docs/benchmarks.md "STEVE").
#   full:  benchmarks/specs/steve-pendulum-seed{0,1,2}.yaml — STEVE, td and mve, 3 seeds × 20k env
#          steps (experiments/steve/pendulum.yaml); RLlib SAC: benchmarks/specs/pendulum-sac.yaml.
#   small: benchmarks/specs/steve-pendulum-small.yaml — the cut-down STEVE vs td probe (seed 0, 6k).
# Usage: bash benchmarks/steve_pendulum.sh [full|small]   (RESULTS defaults to benchmarks/results)
set -euo pipefail
cd "$(dirname "$0")/.."
RESULTS="${RESULTS:-benchmarks/results}"
BIN="${BIN:-.venv/bin}"
specs=benchmarks/specs
source benchmarks/lib.sh
mkdir -p "$RESULTS"
case "${1:-full}" in
  full) experiments=(steve-pendulum-seed0 steve-pendulum-seed1 steve-pendulum-seed2) ;;
  small) experiments=(steve-pendulum-small) ;;
  *) echo "usage: $0 [full|small]" >&2; exit 2 ;;
esac
for name in "${experiments[@]}"; do
  run_experiment "$name"
done
"$BIN/python" benchmarks/steve_pendulum_report.py "${experiments[@]/#/$RESULTS/}"
