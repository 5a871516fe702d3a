#!/usr/bin/env bash
# Issue #30: ACER's built-in defaults vs RLlib PPO's on CartPole-v1 (to 475), Acrobot-v1 (to -100),
# MinAtar Breakout (to 1.5, about 4x random play; 100k env steps at most) and MinAtar Asterix (100k env
# steps, to 1.0 = 2x random play in a 5-report rolling mean: single reports reach it by chance), 3 seeds
# each, no per-env hyperparameters
# (benchmarks/specs/defaults-{acer,ppo}-*.yaml), plus the trust-region ablation on Breakout: how often
# the constraint binds at the default δ = 1 and at δ = 0.01 and 0.001 (3 seeds each). The policy
# gradient scales with reward_scale (0.1 by default), so these are the paper's δ = 0.1 and 0.01 for
# unscaled rewards. `probe`: the seed-0 probes that chose the defaults (Acrobot: entropy 0.01 / 0.003 /
# 0.001 / 0 at reward scale 0.01; Breakout, 40k env steps: reward scale 0.01 vs 0.1 at entropy 0.001).
# Usage: bash benchmarks/acer_defaults.sh [acer|ppo|ablation|probe|report ...] (default: all of them).
# Output: docs/benchmarks/acer_defaults/{cartpole,acrobot,breakout,asterix,trust_region,probe_*}/.
set -euo pipefail
cd "$(dirname "$0")/.."
export WANDB_MODE=disabled
BIN="${BIN:-.venv/bin}"
RESULTS="${RESULTS:-benchmarks/results/acer_defaults}"
specs=benchmarks/specs
mkdir -p "$RESULTS"
source benchmarks/lib.sh
envs=(cartpole acrobot breakout asterix)
declare -A threshold=([cartpole]=475 [acrobot]=-100 [breakout]=1.5 [asterix]=1.0) smooth=([asterix]=5)
for part in "${@:-acer ppo ablation probe report}"; do
  for step in $part; do
    case $step in
      acer|ppo) for env in "${envs[@]}"; do run_experiment "defaults-$step-$env"; done ;;
      ablation) run_spec defaults-acer-breakout-delta "$specs/defaults-acer-breakout.yaml" \
                  --set "config.trust_region_delta={grid_search: [0.01, 0.001]}" ;;
      probe) run_spec probe-acrobot-entropy "$specs/defaults-acer-acrobot.yaml" --set "seeds=[0]" \
               --set config.reward_scale=0.01 --set "config.entropy_coeff={grid_search: [0.01, 0.003, 0.001, 0.0]}"
             run_spec probe-breakout-scale "$specs/defaults-acer-breakout.yaml" --set "seeds=[0]" \
               --set "stop={env_steps: 40000}" --set "config.reward_scale={grid_search: [0.01, 0.1]}" ;;
      report)
        for env in "${envs[@]}"; do
          "$BIN/behaviorlab" compare "$RESULTS"/defaults-{acer,ppo}-$env --threshold "${threshold[$env]}" \
            --smooth "${smooth[$env]:-1}" --out "docs/benchmarks/acer_defaults/$env"
        done
        "$BIN/behaviorlab" compare "$RESULTS"/probe-acrobot-entropy --threshold -100 --out docs/benchmarks/acer_defaults/probe_acrobot
        "$BIN/behaviorlab" compare "$RESULTS"/probe-breakout-scale --threshold 1.5 --out docs/benchmarks/acer_defaults/probe_breakout
        "$BIN/behaviorlab" compare "$RESULTS"/defaults-acer-breakout{,-delta} \
          --out docs/benchmarks/acer_defaults/trust_region
        "$BIN/python" benchmarks/trust_region_binding.py "$RESULTS"/defaults-acer-breakout{,-delta} \
          > docs/benchmarks/acer_defaults/trust_region/binding.md ;;
      *) echo "unknown part '$step': use acer, ppo, ablation, probe or report" >&2; exit 2 ;;
    esac
  done
done
