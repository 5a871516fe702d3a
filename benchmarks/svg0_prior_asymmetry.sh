#!/usr/bin/env bash
# SVG0Prior information asymmetry (issue #30): what the MLP prior sees — the body only (`proprio`),
# body + target positions (pointmass-nav-mlp.yaml's KL-0.01 run), or everything (+ the next-target
# one-hot, i.e. the task). Navigation on tables 0–3 (40k env steps per seed), then each seed's prior
# frozen on the held-out tables 4–7 (25k), and learning from scratch there (40k). All of it, 3 seeds:
# ~70 min on 2 quiet cores. VARIANTS, NAV_SEEDS, TRANSFER_SEEDS and SCRATCH (1/0) cut it down, e.g.
# VARIANTS="body all" NAV_SEEDS="[0, 1]" TRANSFER_SEEDS="[0, 1]" SCRATCH=0 (docs/benchmarks.md says what
# was run). Output: docs/benchmarks/svg0_prior_asymmetry/{navigation,transfer}, and each navigation
# trial's prior acting alone (navigation/prior_alone.md).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
VARIANTS="${VARIANTS:-body body-targets all}"
NAV_SEEDS="${NAV_SEEDS:-[0, 1, 2]}"
TRANSFER_SEEDS="${TRANSFER_SEEDS:-[0, 1, 2]}"
SCRATCH="${SCRATCH:-1}"
mkdir -p "${RESULTS:-benchmarks/results/svg0_prior_asymmetry}"
export RESULTS="$(cd "${RESULTS:-benchmarks/results/svg0_prior_asymmetry}" && pwd)"  # absolute: prior_checkpoint uses it
export WANDB_MODE=disabled
source benchmarks/lib.sh
specs=benchmarks/specs
nav=() transfer=()
for variant in $VARIANTS; do
  if [[ $variant == body-targets ]]; then
    run_spec pointmass-nav-prior-body-targets "$specs/pointmass-nav-mlp.yaml" --set config.kl_weight=0.01 \
      --set "seeds=$NAV_SEEDS"
  else
    run_spec "pointmass-nav-prior-$variant" "$specs/pointmass-nav-prior-$variant.yaml" --set "seeds=$NAV_SEEDS"
  fi
  nav+=("$RESULTS/pointmass-nav-prior-$variant")
done
"$BIN/behaviorlab" compare "${nav[@]}" --threshold 20 --out docs/benchmarks/svg0_prior_asymmetry/navigation
for variant in $VARIANTS; do
  run_spec "pointmass-transfer-prior-$variant" "$specs/pointmass-transfer-prior-$variant.yaml" \
    --set "seeds=$TRANSFER_SEEDS"
  transfer+=("$RESULTS/pointmass-transfer-prior-$variant")
done
if [[ $SCRATCH == 1 ]]; then
  run_spec pointmass-heldout-scratch "$specs/pointmass-heldout-scratch.yaml" --set "seeds=$TRANSFER_SEEDS"
  transfer=("$RESULTS/pointmass-heldout-scratch" "${transfer[@]}")
fi
"$BIN/behaviorlab" compare "${transfer[@]}" --threshold 30 --out docs/benchmarks/svg0_prior_asymmetry/transfer
# Each navigation trial's prior and policy acting alone on its own tables 0–3 (targets per episode).
nav_trials=()
for dir in "${nav[@]}"; do
  nav_trials+=("$dir"/trial_*)
done
"$BIN/python" benchmarks/svg0_prior_alone.py "${nav_trials[@]}" > docs/benchmarks/svg0_prior_asymmetry/navigation/prior_alone.md
