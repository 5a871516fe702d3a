#!/usr/bin/env bash
# Imitation on seals/CartPole-v0: BC and GAIL from 1 and 4 expert trajectories (3 seeds each), the
# shuffled-label GAIL control on seals/CartPole-v0 and on CartPole-v1 (survival bias), then 50-episode
# evaluations (greedy and sampled) of every final policy, normalised expert = 1, random = 0.
# Output: docs/benchmarks/gail_seals_cartpole/ (table, D-accuracy curves); see docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
RESULTS="${RESULTS:-benchmarks/results/gail}"
mkdir -p "$RESULTS"
source benchmarks/lib.sh
run_spec gail-seals-cartpole experiments/gail/seals_cartpole.yaml
run_spec bc-seals-cartpole experiments/bc/seals_cartpole.yaml
run_spec gail-shuffled-seals-cartpole experiments/gail/controls_shuffled_labels.yaml
run_spec gail-shuffled-cartpole-v1 experiments/gail/controls_shuffled_labels_cartpole_v1.yaml
# Ablation: D on standardised observations (disc_normalize_obs), 1 trajectory, seed 0.
run_spec gail-seals-cartpole-obsnorm experiments/gail/seals_cartpole.yaml --set config.disc_normalize_obs=true \
  --set config.num_expert_trajectories=1 --set "seeds=[0]"
nice -n 10 "$BIN/python" benchmarks/gail_eval.py "$RESULTS" --out docs/benchmarks/gail_seals_cartpole
