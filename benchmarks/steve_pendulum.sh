#!/usr/bin/env bash
# STEVE on Pendulum-v1 against its own ablations (docs/benchmarks.md "STEVE").
#   full:  benchmarks/specs/steve-pendulum-seed{0,1,2}.yaml — STEVE, td and mve, 3 seeds × 20k env
#          steps (experiments/steve/pendulum.yaml); RLlib SAC: benchmarks/specs/pendulum-sac.yaml.
#   paper-10k: the same specs, STEVE vs td only, 10k env steps, into steve-pendulum-10k-seed{0,1,2}
#          (what fits this machine in a session: ≈ 20 min per seed's pair; every small run had
#          passed −250 by 8k).
#   utd2:  two updates per env step (train_batch_size_per_learner 4096 = 16 minibatches per 8 env
#          steps) on the seed-0 spec: td, seeds 0–2, 7k env steps; STEVE, seeds 0–1, 6k env steps; one
#          trial at a time. Whether the update count or the targets' quality limits learning.
#   small: benchmarks/specs/steve-pendulum-small-seed{0,1,2}.yaml — STEVE vs td with 64-wide nets and
#          M = N = 2 world models, 3 seeds × 10k env steps, one seed's pair at a time; then
#          benchmarks/specs/steve-pendulum-small-mve.yaml, the mve ablation of the same.
# Usage: bash benchmarks/steve_pendulum.sh [full|paper-10k|utd2|small]   (RESULTS defaults to benchmarks/results)
set -euo pipefail
cd "$(dirname "$0")/.."
RESULTS="${RESULTS:-benchmarks/results}"
BIN="${BIN:-.venv/bin}"
specs=benchmarks/specs
source benchmarks/lib.sh
mkdir -p "$RESULTS"
# Ray's trial actors inherit these: glibc otherwise maps and page-faults a fresh block for every
# multi-MB ensemble activation (≈ 30 % of an update's CPU time, measured); unchanged if set.
export MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-1000000000}" MALLOC_TRIM_THRESHOLD_="${MALLOC_TRIM_THRESHOLD_:-1000000000}"
overrides=() prefix=""
case "${1:-full}" in
  full) experiments=(steve-pendulum-seed0 steve-pendulum-seed1 steve-pendulum-seed2) ;;
  paper-10k) experiments=(steve-pendulum-seed0 steve-pendulum-seed1 steve-pendulum-seed2)
             prefix=10k overrides=(--set stop.env_steps=10000 --set 'config.target_reduction={grid_search: [steve, td]}') ;;
  small) experiments=(steve-pendulum-small-seed0 steve-pendulum-small-seed1 steve-pendulum-small-seed2
                      steve-pendulum-small-mve) ;;
  utd2) utd2=(--set config.train_batch_size_per_learner=4096 --set tune.max_concurrent_trials=1)
        run_spec steve-pendulum-td-utd2 "$specs/steve-pendulum-seed0.yaml" "${utd2[@]}" --set stop.env_steps=7000 \
          --set config.target_reduction=td --set 'seeds=[0, 1, 2]'
        run_spec steve-pendulum-steve-utd2 "$specs/steve-pendulum-seed0.yaml" "${utd2[@]}" --set stop.env_steps=6000 \
          --set config.target_reduction=steve --set 'seeds=[0, 1]'
        exec "$BIN/python" benchmarks/steve_pendulum_report.py "$RESULTS"/steve-pendulum-{td,steve}-utd2 --at 3000 4000 5000 6000 ;;
  *) echo "usage: $0 [full|paper-10k|utd2|small]" >&2; exit 2 ;;
esac
results=()
for name in "${experiments[@]}"; do
  result="${name/steve-pendulum-/steve-pendulum-${prefix:+$prefix-}}"
  run_spec "$result" "$specs/$name.yaml" "${overrides[@]}"
  results+=("$RESULTS/$result")
done
"$BIN/python" benchmarks/steve_pendulum_report.py "${results[@]}"
