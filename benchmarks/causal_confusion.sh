#!/usr/bin/env bash
# Causal confusion on MountainCar (issue 26). Studies (default: all three; or name some as arguments):
#   mountaincar               scripted expert, 300 / 1,000 / 3,000 demonstration steps × 10 seeds, 50
#                             evaluation episodes per point (≈ 22 min on 2 shared cores at a load of 12–18)
#   mountaincar_noisy_expert  the same with 20 % random demonstrated actions (2 sizes × 5 seeds)
#   mountaincar_trained_expert  the platform-trained PPO expert (experiments/causal_confusion/expert_mountaincar.yaml,
#                             trained here first when benchmarks/results/causal_confusion/expert-mountaincar is
#                             missing, ≈ 4 min) and its `data collect` demonstrations (experiments/data/mountaincar_expert)
# Plain torch training; episodes on local RLlib EnvRunners (no Ray cluster).
# Output: docs/benchmarks/causal_confusion/{NAME}/{summary.md,runs.json} (tables in docs/benchmarks.md),
# and a trial directory per size and seed there (`behaviorlab report docs/benchmarks/causal_confusion/NAME`).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
BIN="${BIN:-.venv/bin}"
EXPERT=benchmarks/results/causal_confusion/expert-mountaincar
studies=("$@")
(( ${#studies[@]} )) || studies=(mountaincar mountaincar_noisy_expert mountaincar_trained_expert)
for name in "${studies[@]}"; do
  if [[ $name == mountaincar_trained_expert && ! -e $EXPERT ]]; then
    WANDB_MODE=disabled nice -n 10 "$BIN/behaviorlab" run experiments/causal_confusion/expert_mountaincar.yaml \
      --results-dir "$(dirname "$EXPERT")" --name "$(basename "$EXPERT")"
  fi
  out=docs/benchmarks/causal_confusion/$name
  nice -n 10 "$BIN/python" -u -m behaviorlab.algorithms.causal_confusion benchmarks/causal_confusion/$name.yaml --out "$out"
  rm -f "$out/spec.json"  # the spec is the committed YAML
done
