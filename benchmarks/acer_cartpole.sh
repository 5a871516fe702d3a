#!/usr/bin/env bash
# ACER vs RLlib PPO vs RLlib DQN on CartPole-v1, plus ACER's replay-ratio ablation (0, 1, 4).
# 3 seeds each, run one after another on the same machine; ~30 min on 2 cores.
# Output: curves and tables under docs/benchmarks/acer_{cartpole,replay_ratio}/ (see docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/.."
results="${RESULTS:-benchmarks/results}"
for spec in cartpole-acer-rr4 cartpole-ppo cartpole-acer-rr0 cartpole-acer-rr1 cartpole-dqn; do
  behaviorlab run "benchmarks/specs/$spec.yaml" --results-dir "$results" --name "$spec"
done
behaviorlab compare "$results"/cartpole-{acer-rr4,ppo,dqn} --threshold 475 --out docs/benchmarks/acer_cartpole
behaviorlab compare "$results"/cartpole-acer-rr{0,1,4} --threshold 300 --out docs/benchmarks/acer_replay_ratio
