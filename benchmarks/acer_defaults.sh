#!/usr/bin/env bash
# ACER's built-in defaults vs RLlib PPO's on Acrobot-v1 (issue #30: ACER defaults that learn without
# per-env settings in <= PPO's env steps), 3 seeds, stop at return -100 or 60k env steps (~15 min on 2
# cores), and a 1-seed probe of ACER with reward_scale 0.01. Output: docs/benchmarks/acer_defaults/.
set -euo pipefail
cd "$(dirname "$0")/.."
results="${RESULTS:-benchmarks/results/$(date +%Y%m%d-%H%M%S)}"
for spec in acrobot-acer-default acrobot-ppo-default acrobot-acer-scale001; do
  behaviorlab run "benchmarks/specs/$spec.yaml" --results-dir "$results" --name "$spec"
done
behaviorlab compare "$results"/acrobot-{acer,ppo}-default --threshold -100 --out docs/benchmarks/acer_defaults
