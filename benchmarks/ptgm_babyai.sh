#!/usr/bin/env bash
# PTGM on BabyAI GoToLocal (issue #6): PTGM (λ = 0.05) vs PTGM without the goal prior (λ = 0) vs
# flat PPO, 3 seeds each. PTGM: 20k high-level env steps (≈ 78k low-level); flat PPO: 200k
# low-level env steps (FLAT_ENV_STEPS overrides). Trials run one at a time (a trial takes both
# cores of a 2-CPU Ray instance); FLAT_PARALLEL_SEEDS=1 runs the three flat-PPO seeds as separate
# experiments NAME-seedN at once, next to the PTGM runs (what the docs/benchmarks.md run did on a
# busy shared machine: ~35 min wall). Needs the artifacts of experiments/ptgm/babyai_pipeline.sh in
# $ARTIFACTS (low_level.pt, codebook.npz, prior.pt; their .json and the pipeline's log.txt, if
# there, feed the wall-time table). Output: $RESULTS/ptgm-babyai-gotolocal{,-lambda0,-flat-ppo}
# and docs/benchmarks/ptgm_babyai/ (benchmarks/ptgm_babyai_report.py).
# Usage: [ARTIFACTS=DIR] [RESULTS=DIR] [FLAT_ENV_STEPS=N] [FLAT_PARALLEL_SEEDS=1] benchmarks/ptgm_babyai.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ARTIFACTS=${ARTIFACTS:-$HOME/behaviorlab_data/ptgm/babyai-gotolocal}
RESULTS=${RESULTS:-benchmarks/results}
BIN=${BIN:-.venv/bin}
ARTIFACTS=$(cd "$ARTIFACTS" && pwd)
for name in low_level.pt codebook.npz prior.pt; do
  [[ -f "$ARTIFACTS/$name" ]] || { echo "missing $ARTIFACTS/$name: run experiments/ptgm/babyai_pipeline.sh first" >&2; exit 1; }
done
specs="$RESULTS/specs"
mkdir -p "$specs"
for name in ptgm-babyai-gotolocal ptgm-babyai-gotolocal-lambda0; do
  sed "s|@ARTIFACTS@|$ARTIFACTS|g" "benchmarks/specs/$name.yaml.template" > "$specs/$name.yaml"
done
flat=ptgm-babyai-gotolocal-flat-ppo
sed "s|^stop: {env_steps: 200000}|stop: {env_steps: ${FLAT_ENV_STEPS:-200000}}|" \
  "benchmarks/specs/$flat.yaml" > "$specs/$flat.yaml"

run() {  # run NAME: one experiment, unless its directory exists (`behaviorlab run` would write NAME-2)
  if [[ -e "$RESULTS/$1" ]]; then
    echo "$RESULTS/$1 exists: skipping (remove it to rerun)" >&2
    return
  fi
  local start
  start=$(date +%s)
  "$BIN/behaviorlab" run "$specs/$1.yaml" --results-dir "$RESULTS" --name "$1"
  echo "WALL $1 $(( $(date +%s) - start )) s" | tee -a "$RESULTS/wall.txt"
}

names=(ptgm-babyai-gotolocal ptgm-babyai-gotolocal-lambda0)
pids=()
if [[ "${FLAT_PARALLEL_SEEDS:-0}" == 1 ]]; then
  for seed in 0 1 2; do
    sed -e "s/^seeds: \[0, 1, 2\]/seeds: [$seed]/" -e "s/^name: $flat\$/name: $flat-seed$seed/" \
      "$specs/$flat.yaml" > "$specs/$flat-seed$seed.yaml"
    run "$flat-seed$seed" > "$RESULTS/$flat-seed$seed.log" 2>&1 &
    pids+=($!)
  done
else
  names+=("$flat")
fi
for name in "${names[@]}"; do
  run "$name"
done
for pid in "${pids[@]}"; do
  wait "$pid"
done
"$BIN/python" benchmarks/ptgm_babyai_report.py "$RESULTS" --artifacts "$ARTIFACTS" --out docs/benchmarks/ptgm_babyai
