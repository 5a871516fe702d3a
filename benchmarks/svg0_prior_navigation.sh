#!/usr/bin/env bash
# SVG0Prior on point-mass 2nd-order navigation: no prior effect (KL 0) vs MLP prior vs LSTM prior,
# 3 seeds × 40k env steps each (~25 min on 2 cores), then each trained prior acting alone
# (prior_alone.md). Output: docs/benchmarks/svg0_prior_navigation/.
set -euo pipefail
cd "$(dirname "$0")/.."
results="${RESULTS:-benchmarks/results}"
for spec in pointmass-nav-mlp pointmass-nav-lstm; do
  behaviorlab run "benchmarks/specs/$spec.yaml" --results-dir "$results" --name "$spec"
done
behaviorlab compare "$results/pointmass-nav-mlp" "$results/pointmass-nav-lstm" --threshold 20 \
  --out docs/benchmarks/svg0_prior_navigation
python benchmarks/svg0_prior_alone.py "$results"/pointmass-nav-{mlp,lstm}/trial_* \
  > docs/benchmarks/svg0_prior_navigation/prior_alone.md
