# Shared by the benchmark scripts (source it after setting RESULTS, BIN and specs).

# run_experiment NAME: `behaviorlab run $specs/NAME.yaml` into $RESULTS/NAME, unless that directory
# exists (`behaviorlab run` would write NAME-2); appends its wall time to $RESULTS/wall.txt.
run_experiment() {
  if [[ -e "$RESULTS/$1" ]]; then
    echo "$RESULTS/$1 exists: skipping (remove it to rerun)" >&2
    return
  fi
  local start
  start=$(date +%s)
  "$BIN/behaviorlab" run "$specs/$1.yaml" --results-dir "$RESULTS" --name "$1"
  echo "WALL $1 $(( $(date +%s) - start )) s" | tee -a "$RESULTS/wall.txt"
}

# require_ptgm_artifacts PIPELINE: exit unless $ARTIFACTS holds π_L, the codebook and the prior
# (made by experiments/ptgm/PIPELINE).
require_ptgm_artifacts() {
  local name
  for name in low_level.pt codebook.npz prior.pt; do
    [[ -f "$ARTIFACTS/$name" ]] || { echo "missing $ARTIFACTS/$name: run experiments/ptgm/$1 first" >&2; exit 1; }
  done
}
