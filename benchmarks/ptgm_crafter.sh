#!/usr/bin/env bash
# PTGM on a Crafter achievement (issue #6, "a Crafter achievement at small scale"; TASK, default
# place_table): PTGM (λ = 0.05) vs PTGM without the goal prior (λ = 0) vs flat PPO vs the
# continuous-skill baseline (vae: SPiRL-style VAE skills, crafter_vae_skills.yaml.template), 3 seeds each,
# 50k low-level env steps each
# (PTGM: 5,000 high-level steps of 10). The specs are experiments/ptgm/crafter_highlevel.yaml.template
# and crafter_flat_ppo.yaml with task, names, seeds and (for λ = 0) the KL weight replaced. The three
# experiments run at the same time (separate local Ray instances; a trial takes both cores of
# one), their seeds one after another: ~1 h on 2 cores. Needs the artifacts of
# experiments/ptgm/crafter_pipeline.sh in $ARTIFACTS. Output: $RESULTS/ptgm-crafter-<task>{,-lambda0,-flat-ppo}
# and, from benchmarks/ptgm_report.py, docs/benchmarks/ptgm_crafter/ (ptgm_crafter_<task>/ for
# another task). VARIANTS picks the experiments (default "ptgm lambda0 flat-ppo"; add vae, which needs the
# `skills` stage's skills.pt and skills_prior.pt in $ARTIFACTS); SEQUENTIAL=1 runs
# each seed of SEEDS (default "0 1 2") as its own experiment NAME-seedN, one at a time, seed by seed
# (s0 of every variant, then s1, …), so a run cut short still holds paired seeds. SENSITIVITY
# (e.g. 0.2,0.3) sets the report's threshold-sensitivity rows.
# Usage: [TASK=place_table] [ARTIFACTS=DIR] [RESULTS=DIR] [THRESHOLD=0.5] [VARIANTS="ptgm lambda0 flat-ppo vae"]
#        [SEQUENTIAL=1] [SEEDS="0 1"] [SENSITIVITY=0.2,0.3] benchmarks/ptgm_crafter.sh
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
benchmark_spec experiments/ptgm/crafter_vae_skills.yaml.template "$prefix-vae"

declare -A suffix=([ptgm]="" [lambda0]="-lambda0" [flat-ppo]="-flat-ppo" [vae]="-vae")
names=()
for variant in ${VARIANTS:-ptgm lambda0 flat-ppo}; do
  [[ -v "suffix[$variant]" ]] || { echo "unknown variant $variant in VARIANTS (ptgm, lambda0, flat-ppo, vae)" >&2; exit 1; }
  if [[ "$variant" == vae ]]; then
    for name in skills.pt skills_prior.pt; do
      [[ -f "$ARTIFACTS/$name" ]] || {
        echo "missing $ARTIFACTS/$name: run experiments/ptgm/crafter_pipeline.sh (its skills stage) first" >&2; exit 1; }
    done
  fi
  names+=("$prefix${suffix[$variant]}")
done
if [[ "${SEQUENTIAL:-0}" == 1 ]]; then
  for seed in ${SEEDS:-0 1 2}; do
    for name in "${names[@]}"; do
      sed -e "s/^seeds: \[0, 1, 2\]/seeds: [$seed]/" -e "s/^name: $name\$/name: $name-seed$seed/" \
        "$specs/$name.yaml" > "$specs/$name-seed$seed.yaml"
      run_experiment "$name-seed$seed" > "$RESULTS/$name-seed$seed.log" 2>&1
    done
  done
else
  pids=()
  for name in "${names[@]}"; do
    run_experiment "$name" > "$RESULTS/$name.log" 2>&1 &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do
    wait "$pid"
  done
fi
out=docs/benchmarks/ptgm_crafter
[[ "$TASK" == place_table ]] || out=${out}_$TASK
"$BIN/python" benchmarks/ptgm_report.py "$RESULTS" --artifacts "$ARTIFACTS" --out "$out" \
  --prefix "$prefix" --level "Crafter $TASK" --threshold "${THRESHOLD:-0.5}" ${SENSITIVITY:+--sensitivity "$SENSITIVITY"}
