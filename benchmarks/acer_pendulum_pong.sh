#!/usr/bin/env bash
# ACER-continuous vs RLlib SAC on Pendulum-v1 (return at 20k env steps, wall time), and Atari Pong
# env steps/s of ACER vs RLlib APPO with the same runners (raw ALE rate: benchmarks/overhead.py).
set -euo pipefail
cd "$(dirname "$0")/.."
results="${RESULTS:-benchmarks/results}"
for spec in pendulum-acer pendulum-sac pong-acer-throughput pong-appo-throughput; do
  behaviorlab run "benchmarks/specs/$spec.yaml" --results-dir "$results" --name "$spec"
done
behaviorlab compare "$results/pendulum-acer" "$results/pendulum-sac" --out docs/benchmarks/acer_pendulum
behaviorlab compare "$results/pong-acer-throughput" "$results/pong-appo-throughput" --out docs/benchmarks/acer_pong_throughput
