#!/usr/bin/env bash
# PTGM on a Crafter achievement (issue #6, "a Crafter achievement at small scale"; TASK, default
# place_table): PTGM (λ = 0.05) vs PTGM without the goal prior (λ = 0) vs flat PPO, 3 seeds each,
# 50k low-level env steps each
# (PTGM: 5,000 high-level steps of 10). The specs are experiments/ptgm/crafter_highlevel.yaml.template
# and crafter_flat_ppo.yaml with task, names, seeds and (for λ = 0) the KL weight replaced. The three
# experiments run at the same time (separate local Ray instances; a trial takes both cores of
# one), their seeds one after another: ~1 h on 2 cores. Needs the artifacts of
# experiments/ptgm/crafter_pipeline.sh in $ARTIFACTS. Output: $RESULTS/ptgm-crafter-<task>{,-lambda0,-flat-ppo}
# and, from benchmarks/ptgm_report.py, docs/benchmarks/ptgm_crafter/ (ptgm_crafter_<task>/ for
# another task).
# Usage: [TASK=place_table] [ARTIFACTS=DIR] [RESULTS=DIR] [THRESHOLD=0.5] benchmarks/ptgm_crafter.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ARTIFACTS=${ARTIFACTS:-$HOME/behaviorlab_data/ptgm/crafter}
RESULTS=${RESULTS:-benchmarks/results}
BIN=${BIN:-.venv/bin}
ARTIFACTS=$(cd "$ARTIFACTS" && pwd)
source benchmarks/lib.sh
require_ptgm_artifacts crafter_pipeline.sh
TASK=${TASK:-place_table}
prefix=ptgm-crafter-${TASK//_/-}
specs="$RESULTS/specs"
mkdir -p "$specs"
benchmark_spec() {  # benchmark_spec SOURCE NAME [extra sed expression]: 3 seeds, no wandb
  sed -e "s|@ARTIFACTS@|$ARTIFACTS|g" -e "s|^name: .*|name: $2|" -e "s|^seeds: \[0\]|seeds: [0, 1, 2]|" \
    -e "s|^logging: .*|logging: {wandb: {mode: disabled}, tensorboard: false}|" -e "s|task: place_table|task: $TASK|" \
    -e "${3:-}" "$1" > "$specs/$2.yaml"
}
benchmark_spec experiments/ptgm/crafter_highlevel.yaml.template "$prefix"
benchmark_spec experiments/ptgm/crafter_highlevel.yaml.template "$prefix-lambda0" "s|goal_prior_kl_coeff: 0.05|goal_prior_kl_coeff: 0.0|"
benchmark_spec experiments/ptgm/crafter_flat_ppo.yaml "$prefix-flat-ppo"

pids=()
for name in "$prefix" "$prefix-lambda0" "$prefix-flat-ppo"; do
  run_experiment "$name" > "$RESULTS/$name.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid"
done
out=docs/benchmarks/ptgm_crafter
[[ "$TASK" == place_table ]] || out=${out}_$TASK
"$BIN/python" benchmarks/ptgm_report.py "$RESULTS" --artifacts "$ARTIFACTS" --out "$out" \
  --prefix "$prefix" --level "Crafter $TASK" --threshold "${THRESHOLD:-0.5}"
