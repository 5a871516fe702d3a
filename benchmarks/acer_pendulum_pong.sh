#!/usr/bin/env bash
# Pendulum-v1, 3 seeds × 20k env steps: ACER-continuous (issue #3) and SVG0Prior with KL weight 0
# (issue #4) vs RLlib SAC, return at 10k/15k/20k and wall time (benchmarks/pendulum_report.py);
# and Atari Pong env steps/s of ACER vs RLlib APPO with the same runners (raw ALE rate:
# benchmarks/overhead.py). SAC takes ≈ 13 min per seed on 2 CPUs.
set -euo pipefail
cd "$(dirname "$0")/.."
results="${RESULTS:-benchmarks/results}"
for spec in pendulum-acer pendulum-sac pendulum-svg0-prior pong-acer-throughput pong-appo-throughput; do
  behaviorlab run "benchmarks/specs/$spec.yaml" --results-dir "$results" --name "$spec"
done
python benchmarks/pendulum_report.py "$results/pendulum-acer" "$results/pendulum-svg0-prior" "$results/pendulum-sac"
behaviorlab compare "$results/pendulum-acer" "$results/pendulum-svg0-prior" "$results/pendulum-sac" --out docs/benchmarks/pendulum_20k
behaviorlab compare "$results/pong-acer-throughput" "$results/pong-appo-throughput" --out docs/benchmarks/acer_pong_throughput
