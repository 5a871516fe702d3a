#!/usr/bin/env bash
# Issue #30: ACER's built-in defaults vs RLlib PPO's on CartPole-v1 (to 475), Acrobot-v1 (to -100) and
# MinAtar Breakout (100k env steps), 3 seeds each, no per-env hyperparameters
# (benchmarks/specs/defaults-{acer,ppo}-*.yaml), plus the trust-region ablation on Breakout: how often
# the constraint binds at the default δ = 1 (3 seeds) and at δ = 0.01 (the paper's δ = 1 for unscaled
# rewards: the policy gradient scales with reward_scale, 0.01 by default) and 0.001 (seed 0 each). `entropy`: the 1-seed Acrobot probe
# that chose the entropy cost (0.01 / 0.003 / 0.001 / 0 at reward scale 0.01).
# Usage: bash benchmarks/acer_defaults.sh [acer|ppo|ablation|entropy|report ...] (default: all of them).
# Output: docs/benchmarks/acer_defaults/{cartpole,acrobot,breakout,trust_region}/.
set -euo pipefail
cd "$(dirname "$0")/.."
export WANDB_MODE=disabled
BIN="${BIN:-.venv/bin}"
RESULTS="${RESULTS:-benchmarks/results/acer_defaults}"
specs=benchmarks/specs
mkdir -p "$RESULTS"
source benchmarks/lib.sh
envs=(cartpole acrobot breakout)
declare -A threshold=([cartpole]=475 [acrobot]=-100 [breakout]=)
for part in "${@:-acer ppo ablation entropy report}"; do
  for step in $part; do
    case $step in
      acer|ppo) for env in "${envs[@]}"; do run_experiment "defaults-$step-$env"; done ;;
      ablation) run_spec defaults-acer-breakout-delta "$specs/defaults-acer-breakout.yaml" --set "seeds=[0]" \
                  --set "config.trust_region_delta={grid_search: [0.01, 0.001]}" ;;
      entropy) run_spec defaults-acer-acrobot-entropy "$specs/defaults-acer-acrobot.yaml" --set "seeds=[0]" \
                 --set "config.entropy_coeff={grid_search: [0.01, 0.003, 0.001, 0.0]}" ;;
      report)
        for env in "${envs[@]}"; do
          "$BIN/behaviorlab" compare "$RESULTS"/defaults-{acer,ppo}-$env \
            ${threshold[$env]:+--threshold "${threshold[$env]}"} --out "docs/benchmarks/acer_defaults/$env"
        done
        "$BIN/behaviorlab" compare "$RESULTS"/defaults-acer-acrobot-entropy --threshold -100 \
          --out docs/benchmarks/acer_defaults/entropy
        "$BIN/behaviorlab" compare "$RESULTS"/defaults-acer-breakout{,-delta} \
          --out docs/benchmarks/acer_defaults/trust_region
        "$BIN/python" benchmarks/trust_region_binding.py "$RESULTS"/defaults-acer-breakout{,-delta} \
          > docs/benchmarks/acer_defaults/trust_region/binding.md ;;
      *) echo "unknown part '$step': use acer, ppo, ablation, entropy or report" >&2; exit 2 ;;
    esac
  done
done
