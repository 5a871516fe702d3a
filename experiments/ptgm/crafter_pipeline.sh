#!/usr/bin/env bash
# PTGM on Crafter end to end: explorer dataset → π_L → codebook → prior → high-level RL on one
# achievement. Like babyai_pipeline.sh: each stage reads the previous one's artifact from
# $ARTIFACTS, and the high-level spec is written there from crafter_highlevel.yaml.template.
# Crafter steps at ~180/s here, so the default dataset (400 episodes ≈ 75k steps) takes ~7 min.
# Re-running resumes the collection and redoes the (quick) offline stages. RAY_DATA=1 runs the goals
# and prior stages' dataset passes as Ray Data jobs. The `skills` stage trains the continuous-skill
# baseline's VAE (skills.pt, skills_encoder.pt, skills_prior.pt) on the same dataset, and its spec
# is written from crafter_vae_skills.yaml.template; HIGH_LEVEL picks the spec to run: ptgm
# (default) or vae. SKILLS=0 skips the skills stage (≈ 2 min per epoch on the loaded 2 cores, about
# the bc stage's cost). Run from the repository root.
# Usage: [HIGH_LEVEL=ptgm|vae] [SKILLS=0] [RAY_DATA=1] experiments/ptgm/crafter_pipeline.sh [EPISODES]
#        [extra args for `behaviorlab run`, e.g. --smoke]
set -euo pipefail
EPISODES=${1:-400}
shift || true
ARTIFACTS=${ARTIFACTS:-$HOME/behaviorlab_data/ptgm/crafter}
BIN=${BIN:-.venv/bin}
PTGM="$BIN/python -m behaviorlab.algorithms.ptgm"
ray_data=()
[[ "${RAY_DATA:-0}" == 1 ]] && ray_data=(--ray)
# Checked first: a typo should not wait for the pre-training stages.
case "${HIGH_LEVEL:-ptgm}" in
  ptgm) spec=crafter_highlevel ;;
  vae) spec=crafter_vae_skills ;;
  *) echo "HIGH_LEVEL=${HIGH_LEVEL}: use ptgm or vae (the continuous-skill baseline)" >&2; exit 2 ;;
esac
mkdir -p "$ARTIFACTS"

"$BIN/behaviorlab" data collect "$ARTIFACTS/data" --env crafter --policy explorer --episodes "$EPISODES" --seed 0
# The explorer's sub-goals (walk to a tree and hit it, …) take ~5–20 steps: goals 1–10 steps ahead,
# and π_L pursues a code for 10 steps (crafter_highlevel.yaml.template).
$PTGM bc "$ARTIFACTS/data" "$ARTIFACTS/low_level.pt" --goal-embedding crafter_state --k-min 1 --k-max 10 \
  --goal-dropout 0.1 --epochs 20
$PTGM goals "$ARTIFACTS/data" "$ARTIFACTS/low_level.pt" "$ARTIFACTS/codebook.npz" --num-codes 32 "${ray_data[@]}"
$PTGM prior "$ARTIFACTS/data" "$ARTIFACTS/codebook.npz" "$ARTIFACTS/prior.pt" --epochs 20 "${ray_data[@]}"
# The continuous-skill baseline: a VAE over 10-step action segments (k = the high level's 10 steps per skill).
if [[ "${SKILLS:-1}" == 1 ]]; then
  $PTGM skills "$ARTIFACTS/data" "$ARTIFACTS/skills.pt" --skill-length 10 --latent-dim 8 --beta 0.1 --epochs 20
fi
for template in crafter_highlevel crafter_vae_skills; do
  sed "s|@ARTIFACTS@|$(cd "$ARTIFACTS" && pwd)|g" "experiments/ptgm/$template.yaml.template" > "$ARTIFACTS/$template.yaml"
done
"$BIN/behaviorlab" run "$ARTIFACTS/$spec.yaml" "$@"
