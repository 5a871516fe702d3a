#!/usr/bin/env bash
# SVG0Prior, LSTM vs MLP prior on 2nd-order navigation (issue #4), one sequence table, the mass landing
# on each reached target (~1.5 h on 2 cores). Output: docs/benchmarks/svg0_prior_lstm_vs_mlp/:
#   capacity*.md     each architecture distilled from a scripted expert (no RL; ~2 min per setting)
#   compare.*        no prior effect (KL 0) vs MLP prior vs LSTM prior, 3 seeds × 40k env steps
#   prior_alone.md   those runs' priors acting alone
#   relearn/         a new π learning the task with the same seed's prior of those runs, frozen
#   relearn_expert/  the same with the expert-distilled priors, KL weight 0.01 and 0.1
#   burnin_prior_alone.md  the LSTM prior with a 40-step burn-in (issue #30), acting alone
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p "${RESULTS:-benchmarks/results}"
export RESULTS="$(cd "${RESULTS:-benchmarks/results}" && pwd)"  # absolute: the relearn specs' prior_checkpoint uses it
out=docs/benchmarks/svg0_prior_lstm_vs_mlp
mkdir -p "$out"
python benchmarks/svg0_prior_capacity.py --tables 0 1 2 3 > "$out/capacity_four_tables.md"
python benchmarks/svg0_prior_capacity.py > "$out/capacity_one_table.md"
python benchmarks/svg0_prior_capacity.py --land-on-targets --save "$RESULTS/distilled-priors" \
  > "$out/capacity_one_table_landing.md"
for spec in pointmass-nav1-mlp pointmass-nav1-lstm pointmass-nav1-lstm-burnin pointmass-relearn-mlp \
            pointmass-relearn-lstm pointmass-relearn-expert-mlp pointmass-relearn-expert-lstm; do
  behaviorlab run "benchmarks/specs/$spec.yaml" --results-dir "$RESULTS" --name "$spec"
done
behaviorlab compare "$RESULTS/pointmass-nav1-mlp" "$RESULTS/pointmass-nav1-lstm" --threshold 20 --out "$out"
python benchmarks/svg0_prior_alone.py "$RESULTS"/pointmass-nav1-{mlp,lstm}/trial_* --window 20 > "$out/prior_alone.md"
python benchmarks/svg0_prior_alone.py "$RESULTS"/pointmass-nav1-lstm-burnin/trial_* --window 60 \
  > "$out/burnin_prior_alone.md"  # the burn-in and the segment: the context it trained on
behaviorlab compare "$RESULTS/pointmass-relearn-mlp" "$RESULTS/pointmass-relearn-lstm" --threshold 30 \
  --out "$out/relearn"
behaviorlab compare "$RESULTS/pointmass-relearn-expert-mlp" "$RESULTS/pointmass-relearn-expert-lstm" \
  --threshold 30 --out "$out/relearn_expert"
