#!/usr/bin/env bash
# STEVE vs its td ablation on HalfCheetah-v5 at the budget this 2-core machine allows
# (benchmarks/specs/steve-halfcheetah-small.yaml: 15k env steps, learning from 5k; docs/benchmarks.md
# "STEVE"). Seeds 0 and 1, two trials at a time. experiments/steve/halfcheetah.yaml is the
# cluster-sized run.
# Usage: bash benchmarks/steve_halfcheetah.sh   (RESULTS defaults to benchmarks/results)
set -euo pipefail
cd "$(dirname "$0")/.."
RESULTS="${RESULTS:-benchmarks/results}"
BIN="${BIN:-.venv/bin}"
source benchmarks/lib.sh
mkdir -p "$RESULTS"
# As in steve_pendulum.sh: keeps glibc from page-faulting a fresh block for every ensemble activation.
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-1000000000}" MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-1000000000}"
run_spec steve-halfcheetah-small benchmarks/specs/steve-halfcheetah-small.yaml --set 'seeds=[0, 1]'
# Episodes are 1,000 steps, so each 1k-step window holds one episode's return.
"$BIN/python" benchmarks/steve_pendulum_report.py "$RESULTS/steve-halfcheetah-small" --threshold 1000 \
  --at 6000 8000 10000 12000 15000 --plot docs/benchmarks/steve_halfcheetah/returns.png \
  --title "STEVE vs td, HalfCheetah-v5"
