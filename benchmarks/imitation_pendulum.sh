#!/usr/bin/env bash
# Continuous imitation on Pendulum-v1: BC and GAIL from 1 and 4 trajectories of the SAC expert
# (experiments/data/pendulum_expert), 3 seeds each, then 50-episode evaluations (greedy and sampled)
# of every final policy, normalised expert = 1, random = 0.
# Output: docs/benchmarks/imitation_pendulum/ (table, D-accuracy and return curves); see docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
RESULTS="${RESULTS:-benchmarks/results/imitation_pendulum}"
mkdir -p "$RESULTS"
export WANDB_MODE="${WANDB_MODE:-disabled}"  # wandb's logging actors took ~40 % of a core per 2 trials here
source benchmarks/lib.sh
run_spec bc-pendulum experiments/bc/pendulum.yaml
run_spec gail-pendulum experiments/gail/pendulum.yaml
nice -n 10 "$BIN/python" benchmarks/gail_eval.py "$RESULTS" --out docs/benchmarks/imitation_pendulum
