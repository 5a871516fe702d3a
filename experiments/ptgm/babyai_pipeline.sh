#!/usr/bin/env bash
# PTGM on BabyAI end to end: bot dataset → π_L → codebook → prior → high-level RL.
# Every stage reads the previous one's artifact from $ARTIFACTS; the high-level specs are written
# there from babyai_highlevel{,_acer}.yaml.template and HIGH_LEVEL picks the one to run: ppo
# (default, PTGM) or acer (PTGMACER, off-policy). Re-running resumes the collection and redoes the
# (quick) offline stages. LEVELS (space-separated BabyAI ids) sets the dataset's levels; the default
# two hold GoToLocal's skills. RAY_DATA=1 runs the goals and prior stages' dataset passes as Ray
# Data jobs. Run from the repository root.
# Usage: [HIGH_LEVEL=ppo|acer] [LEVELS="BabyAI-… …"] [RAY_DATA=1] experiments/ptgm/babyai_pipeline.sh [EPISODES] [extra args for `behaviorlab run`, e.g. --smoke]
set -euo pipefail
EPISODES=${1:-2000}
shift || true
ARTIFACTS=${ARTIFACTS:-$HOME/behaviorlab_data/ptgm/babyai-gotolocal}
BIN=${BIN:-.venv/bin}
PTGM="$BIN/python -m behaviorlab.algorithms.ptgm"
ray_data=()
[[ "${RAY_DATA:-0}" == 1 ]] && ray_data=(--ray)
# Checked first: a typo should not wait for the pre-training stages.
case "${HIGH_LEVEL:-ppo}" in
  ppo) spec=babyai_highlevel ;;
  acer) spec=babyai_highlevel_acer ;;
  *) echo "HIGH_LEVEL=${HIGH_LEVEL}: use ppo (on-policy, the paper's) or acer (off-policy)" >&2; exit 2 ;;
esac
mkdir -p "$ARTIFACTS"

# GoToLocal bot episodes are ~5 steps long: goals 1–5 steps ahead cover them.
# shellcheck disable=SC2086  # LEVELS is a list of words
"$BIN/behaviorlab" data collect "$ARTIFACTS/data" --levels ${LEVELS:-BabyAI-GoToLocal-v0 BabyAI-PickupLoc-v0} \
  --episodes "$EPISODES" --seed 0
$PTGM bc "$ARTIFACTS/data" "$ARTIFACTS/low_level.pt" --k-min 1 --k-max 5 --goal-dropout 0.1 --epochs 20
$PTGM goals "$ARTIFACTS/data" "$ARTIFACTS/low_level.pt" "$ARTIFACTS/codebook.npz" --num-codes 16 "${ray_data[@]}"
$PTGM prior "$ARTIFACTS/data" "$ARTIFACTS/codebook.npz" "$ARTIFACTS/prior.pt" --epochs 20 "${ray_data[@]}"
for template in babyai_highlevel babyai_highlevel_acer; do
  sed "s|@ARTIFACTS@|$(cd "$ARTIFACTS" && pwd)|g" "experiments/ptgm/$template.yaml.template" > "$ARTIFACTS/$template.yaml"
done
"$BIN/behaviorlab" run "$ARTIFACTS/$spec.yaml" "$@"
