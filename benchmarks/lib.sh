# Shared by the benchmark scripts (source it after setting RESULTS, BIN and, for run_experiment, specs).

# run_spec NAME SPEC [--set KEY=VALUE …]: `behaviorlab run SPEC` into $RESULTS/NAME, unless that
# directory exists (`behaviorlab run` would write NAME-2); appends its wall time to $RESULTS/wall.txt.
run_spec() {
  if [[ -e "$RESULTS/$1" ]]; then
    echo "$RESULTS/$1 exists: skipping (remove it to rerun)" >&2
    return
  fi
  local start
  start=$(date +%s)
  "$BIN/behaviorlab" run "$2" --results-dir "$RESULTS" --name "$1" "${@:3}"
  echo "WALL $1 $(( $(date +%s) - start )) s" | tee -a "$RESULTS/wall.txt"
}

# run_experiment NAME: run_spec NAME $specs/NAME.yaml.
run_experiment() {
  run_spec "$1" "$specs/$1.yaml"
}

# require_ptgm_artifacts PIPELINE: exit unless $ARTIFACTS holds π_L, the codebook and the prior
# (made by experiments/ptgm/PIPELINE).
require_ptgm_artifacts() {
  local name
  for name in low_level.pt codebook.npz prior.pt; do
    [[ -f "$ARTIFACTS/$name" ]] || { echo "missing $ARTIFACTS/$name: run experiments/ptgm/$1 first" >&2; exit 1; }
  done
}
