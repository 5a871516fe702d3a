#!/usr/bin/env bash
# SVG0Prior transfer of a hierarchical prior to held-out tasks: frozen π0^H and lower level, a critic
# with and without z as input (seed 0's pre-trained prior for every seed), and the critic without z
# with each seed's own pre-trained prior, against learning from scratch (svg0_prior_transfer.sh's
# flat runs, made here if missing). ~25 min pre-training (3 seeds) + ~25 min transfer on 2 cores
# (+ ~20 min for the from-scratch runs). Output: docs/benchmarks/svg0_prior_transfer_hierarchical{,_per_seed}/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p "${RESULTS:-benchmarks/results}"
export RESULTS="$(cd "${RESULTS:-benchmarks/results}" && pwd)"  # absolute: the spec's prior_checkpoint uses it
for spec in pointmass-nav-hierarchical pointmass-heldout-scratch pointmass-transfer-hierarchical \
    pointmass-transfer-hierarchical-per-seed; do
  if [ ! -d "$RESULTS/$spec" ]; then
    behaviorlab run "benchmarks/specs/$spec.yaml" --results-dir "$RESULTS" --name "$spec"
  fi
done
behaviorlab compare "$RESULTS/pointmass-heldout-scratch" "$RESULTS/pointmass-transfer-hierarchical" --threshold 30 \
  --out docs/benchmarks/svg0_prior_transfer_hierarchical
behaviorlab compare "$RESULTS/pointmass-heldout-scratch" "$RESULTS/pointmass-transfer-hierarchical-per-seed" --threshold 30 \
  --out docs/benchmarks/svg0_prior_transfer_hierarchical_per_seed
