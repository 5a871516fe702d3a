#!/usr/bin/env bash
# SVG0Prior transfer to held-out tasks: a frozen pre-trained MLP prior vs learning from scratch on
# the held-out sequence tables 4–7 (~30 min on 2 cores, plus ~10 min for the prior's pre-training
# run if svg0_prior_navigation.sh has not made it). Output: docs/benchmarks/svg0_prior_transfer/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p "${RESULTS:-benchmarks/results}"
export RESULTS="$(cd "${RESULTS:-benchmarks/results}" && pwd)"  # absolute: the spec's prior_checkpoint uses it
if [ ! -d "$RESULTS/pointmass-nav-mlp" ]; then
  behaviorlab run benchmarks/specs/pointmass-nav-mlp.yaml --results-dir "$RESULTS" --name pointmass-nav-mlp
fi
for spec in pointmass-heldout-scratch pointmass-transfer; do
  behaviorlab run "benchmarks/specs/$spec.yaml" --results-dir "$RESULTS" --name "$spec"
done
behaviorlab compare "$RESULTS/pointmass-heldout-scratch" "$RESULTS/pointmass-transfer" --threshold 30 \
  --out docs/benchmarks/svg0_prior_transfer
