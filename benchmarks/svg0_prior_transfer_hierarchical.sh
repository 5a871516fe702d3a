#!/usr/bin/env bash
# SVG0Prior transfer of a hierarchical prior to held-out tasks: frozen π0^H and lower level, a critic
# with and without z as input, against learning from scratch (svg0_prior_transfer.sh's flat runs,
# made here if missing). ~10 min pre-training + ~15 min transfer on 2 cores (+ ~20 min for the
# from-scratch runs). Output: docs/benchmarks/svg0_prior_transfer_hierarchical/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p "${RESULTS:-benchmarks/results}"
export RESULTS="$(cd "${RESULTS:-benchmarks/results}" && pwd)"  # absolute: the spec's prior_checkpoint uses it
for spec in pointmass-nav-hierarchical pointmass-heldout-scratch pointmass-transfer-hierarchical; do
  if [ ! -d "$RESULTS/$spec" ]; then
    behaviorlab run "benchmarks/specs/$spec.yaml" --results-dir "$RESULTS" --name "$spec"
  fi
done
behaviorlab compare "$RESULTS/pointmass-heldout-scratch" "$RESULTS/pointmass-transfer-hierarchical" --threshold 30 \
  --out docs/benchmarks/svg0_prior_transfer_hierarchical
