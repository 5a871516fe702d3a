#!/usr/bin/env bash
# SV-RL benchmark (issue 28): RLlib double + dueling DQN vs SVRLDQN (p = 0.9, SoftImpute) with
# identical settings, 5 seeds each, on Pendulum-v1 with 21 torques (10k env steps) and the random
# 50-state, 18-action MDP (3k env steps, the negative control), and MinAtar Breakout with all 6
# actions (8k env steps, ≈ 75 min on 2 cores shared with load ≈ 15–20): experiments/{dqn,svrl}/*.yaml.
# One Ray run at a time (Tune runs 2 seeds at once on 2 cores); ≈ 1.5 h on 2 cores shared with
# other work (load ≈ 20). Then the rank diagnostic (`behaviorlab rank`) of every trial's final checkpoint, and the table/curves.
# Output: docs/benchmarks/svrl/{table.md,returns.png,rank_*/}.
#   benchmarks/svrl.sh [--results-dir DIR] [STEP ...]   STEP: pendulum mdp minatar rank report (default all)
set -euo pipefail
cd "$(dirname "$0")/.."
# One torch/BLAS thread per process (Ray's workers inherit it): on 2 busy cores a 64×64 MLP update
# took 130–170 ms with torch's default 2 threads and 4–6 ms with 1.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
RESULTS=/tmp/svrl-bench
if [[ "${1:-}" == "--results-dir" ]]; then RESULTS="$2"; shift 2; fi
steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(pendulum mdp minatar rank report)
BIN=.venv/bin; [[ -x $BIN/behaviorlab ]] || BIN=$(dirname "$(command -v behaviorlab)")
specs=$RESULTS/specs
out=docs/benchmarks/svrl
mkdir -p "$specs" "$out"
# lib.sh runs $specs/NAME.yaml as experiment NAME: one copy of each spec under the benchmark's name.
for algo in dqn svrl; do
  cp experiments/$algo/discrete_pendulum.yaml "$specs/$algo-discrete-pendulum.yaml"
  cp experiments/$algo/random_mdp.yaml "$specs/$algo-random-mdp.yaml"
  cp experiments/$algo/minatar_breakout.yaml "$specs/$algo-minatar-breakout.yaml"
done
source benchmarks/lib.sh
for step in "${steps[@]}"; do
  case $step in
    pendulum) run_experiment dqn-discrete-pendulum; run_experiment svrl-discrete-pendulum ;;
    mdp) run_experiment dqn-random-mdp; run_experiment svrl-random-mdp ;;
    minatar) run_experiment dqn-minatar-breakout; run_experiment svrl-minatar-breakout ;;
    rank)
      for name in {dqn,svrl}-{discrete-pendulum,random-mdp,minatar-breakout}; do
        [[ -d "$RESULTS/$name" ]] || { echo "no $RESULTS/$name: skipping its rank" >&2; continue; }
        # Made after the run: up to date (remove it to remeasure).
        [[ "$out/rank_$name/rank.json" -nt "$RESULTS/$name" ]] && { echo "rank_$name is up to date: skipping" >&2; continue; }
        mkdir -p "$out/rank_$name"
        "$BIN/behaviorlab" rank "$RESULTS/$name" --out "$out/rank_$name" | tee "$out/rank_$name/rank.txt"
      done ;;
    report) "$BIN/python" benchmarks/svrl_report.py "$RESULTS" --out "$out" ;;
    *) echo "unknown step $step (pendulum mdp minatar rank report)" >&2; exit 2 ;;
  esac
done
