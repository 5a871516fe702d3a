#!/usr/bin/env bash
# ACER vs RLlib PPO vs RLlib DQN on CartPole-v1, plus ACER's replay-ratio ablation (0, 1, 4, 8).
# 8 seeds for ACER and PPO, 3 for the ablation and DQN, run one after another on the same machine; ~35 min on 2 cores.
# SWEEP=1 first reruns the two-stage search that chose ACER's settings (24 + 18 trials, ~12 min).
# Output: curves and tables under docs/benchmarks/acer_{cartpole,replay_ratio,sweep}/ (see docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
results="${RESULTS:-benchmarks/results/$(date +%Y%m%d-%H%M%S)}"
specs="cartpole-acer cartpole-ppo cartpole-acer-replay cartpole-dqn"
if [[ "${SWEEP:-0}" == 1 ]]; then specs="cartpole-acer-sweep-8envs cartpole-acer-sweep $specs"; fi
for spec in $specs; do
  behaviorlab run "benchmarks/specs/$spec.yaml" --results-dir "$results" --name "$spec"
done
if [[ "${SWEEP:-0}" == 1 ]]; then
  behaviorlab report "$results/cartpole-acer-sweep-8envs" --threshold 475
  behaviorlab report "$results/cartpole-acer-sweep" --threshold 475
fi
behaviorlab compare "$results"/cartpole-{acer,ppo,dqn} --threshold 475 --out docs/benchmarks/acer_cartpole
behaviorlab compare "$results"/cartpole-acer-replay --threshold 475 --out docs/benchmarks/acer_replay_ratio
