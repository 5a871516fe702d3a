#!/usr/bin/env bash
# PTGM on a BabyAI level (issue #6): PTGM (λ = 0.05) vs PTGM without the goal prior (λ = 0) vs
# PTGM with an off-policy high level (PTGMACER) vs flat PPO, 3 seeds each. PTGM: 20k high-level
# env steps (≈ 78k low-level); flat PPO: 200k low-level env steps (FLAT_ENV_STEPS overrides). Trials run one at a time (a trial takes both
# cores of a 2-CPU Ray instance); FLAT_PARALLEL_SEEDS=1 runs the three flat-PPO seeds as separate
# experiments NAME-seedN at once, next to the PTGM runs (what the docs/benchmarks.md run did on a
# busy shared machine: ~35 min wall). Needs the artifacts of experiments/ptgm/babyai_pipeline.sh in
# $ARTIFACTS (low_level.pt, codebook.npz, prior.pt; their .json and the pipeline's log.txt, if
# there, feed the wall-time table). Output: $RESULTS/ptgm-babyai-<level>{,-lambda0,-acer,-flat-ppo}
# and, from benchmarks/ptgm_report.py, docs/benchmarks/ptgm_babyai/ (ptgm_babyai_<level>/
# for a LEVEL other than GoToLocal; OUT overrides it). Flat PPO does not use the artifacts: to
# compare pre-training datasets on one level, link an earlier $RESULTS/…-flat-ppo into the new RESULTS.
# Usage: [LEVEL=GoToLocal] [ARTIFACTS=DIR] [RESULTS=DIR] [OUT=DIR] [FLAT_ENV_STEPS=N] [FLAT_PARALLEL_SEEDS=1] benchmarks/ptgm_babyai.sh
set -euo pipefail
cd "$(dirname "$0")/.."
ARTIFACTS=${ARTIFACTS:-$HOME/behaviorlab_data/ptgm/babyai-gotolocal}
RESULTS=${RESULTS:-benchmarks/results}
BIN=${BIN:-.venv/bin}
ARTIFACTS=$(cd "$ARTIFACTS" && pwd)
source benchmarks/lib.sh
require_ptgm_artifacts babyai_pipeline.sh
# LEVEL: the downstream level (default GoToLocal, which the pre-training dataset contains; e.g.
# PickupDist is held out). The specs are the GoToLocal ones with the level and names replaced.
LEVEL=${LEVEL:-GoToLocal}
level_name=$(echo "$LEVEL" | tr '[:upper:]' '[:lower:]')
prefix=ptgm-babyai-$level_name
specs="$RESULTS/specs"
mkdir -p "$specs"
retarget() {  # retarget SOURCE NAME: a GoToLocal spec, for LEVEL under experiment name NAME
  sed -e "s|@ARTIFACTS@|$ARTIFACTS|g" -e "s|BabyAI-GoToLocal-v0|BabyAI-$LEVEL-v0|" \
    -e "s|^name: ptgm-babyai-gotolocal|name: $prefix|" "$1" > "$specs/$2.yaml"
}
for variant in "" -lambda0 -acer; do
  retarget "benchmarks/specs/ptgm-babyai-gotolocal$variant.yaml.template" "$prefix$variant"
done
flat=$prefix-flat-ppo
retarget benchmarks/specs/ptgm-babyai-gotolocal-flat-ppo.yaml "$flat"
sed -i "s|^stop: {env_steps: 200000}|stop: {env_steps: ${FLAT_ENV_STEPS:-200000}}|" "$specs/$flat.yaml"

names=("$prefix" "$prefix-lambda0" "$prefix-acer")
pids=()
if [[ "${FLAT_PARALLEL_SEEDS:-0}" == 1 ]]; then
  for seed in 0 1 2; do
    sed -e "s/^seeds: \[0, 1, 2\]/seeds: [$seed]/" -e "s/^name: $flat\$/name: $flat-seed$seed/" \
      "$specs/$flat.yaml" > "$specs/$flat-seed$seed.yaml"
    run_experiment "$flat-seed$seed" > "$RESULTS/$flat-seed$seed.log" 2>&1 &
    pids+=($!)
  done
else
  names+=("$flat")
fi
for name in "${names[@]}"; do
  run_experiment "$name"
done
for pid in "${pids[@]}"; do
  wait "$pid"
done
out=docs/benchmarks/ptgm_babyai
[[ "$LEVEL" == GoToLocal ]] || out=${out}_$level_name
out=${OUT:-$out}
"$BIN/python" benchmarks/ptgm_report.py "$RESULTS" --artifacts "$ARTIFACTS" --out "$out" \
  --prefix "$prefix" --level "BabyAI $LEVEL"
