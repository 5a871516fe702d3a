#!/usr/bin/env bash
# PTGM on BabyAI end to end: bot dataset → π_L → codebook → prior → high-level PPO.
# Every stage reads the previous one's artifact from $ARTIFACTS; the high-level spec is written
# there from babyai_highlevel.yaml.template. Re-running resumes the collection and redoes the
# (quick) offline stages. Run from the repository root.
# Usage: experiments/ptgm/babyai_pipeline.sh [EPISODES] [extra args for `behaviorlab run`, e.g. --smoke]
set -euo pipefail
EPISODES=${1:-2000}
shift || true
ARTIFACTS=${ARTIFACTS:-$HOME/behaviorlab_data/ptgm/babyai-gotolocal}
BIN=${BIN:-.venv/bin}
PTGM="$BIN/python -m behaviorlab.algorithms.ptgm"
mkdir -p "$ARTIFACTS"

# GoToLocal bot episodes are ~5 steps long: goals 1–5 steps ahead cover them.
"$BIN/behaviorlab" data collect "$ARTIFACTS/data" --levels BabyAI-GoToLocal-v0 BabyAI-PickupLoc-v0 \
  --episodes "$EPISODES" --seed 0
$PTGM bc "$ARTIFACTS/data" "$ARTIFACTS/low_level.pt" --k-min 1 --k-max 5 --goal-dropout 0.1 --epochs 20
$PTGM goals "$ARTIFACTS/data" "$ARTIFACTS/low_level.pt" "$ARTIFACTS/codebook.npz" --num-codes 16
$PTGM prior "$ARTIFACTS/data" "$ARTIFACTS/codebook.npz" "$ARTIFACTS/prior.pt" --epochs 20
sed "s|@ARTIFACTS@|$(cd "$ARTIFACTS" && pwd)|g" experiments/ptgm/babyai_highlevel.yaml.template \
  > "$ARTIFACTS/babyai_highlevel.yaml"
"$BIN/behaviorlab" run "$ARTIFACTS/babyai_highlevel.yaml" "$@"
