#!/usr/bin/env bash
# LBC benchmark (issue #5) on MinAtar Breakout at 40k env steps each: LBC vs uniform random ψ vs the
# best single member (fixed ψ) vs RLlib APPO and IMPALA, 3 seeds (benchmarks/specs/lbc-minatar-breakout-*.yaml).
# The best member is chosen on seed 0 (largest area under the return curve of the three pinned
# members), then run with seeds 1 and 2. One trial at a time; an LBC trial takes ≈ 4–10 min on 2
# shared CPU cores (11 of them, ≈ 1–1.5 h in all), an APPO trial ≈ 2 min. Steps can run in two
# shells at once (e.g. `lbc single best` and `uniform appo`, starting `best` after `single`).
# Output: docs/benchmarks/lbc_minatar/{returns,arms}.png, table.md and eval.md.
#   benchmarks/lbc_minatar.sh [--results-dir DIR] [STEP ...]   STEP: lbc uniform lbc8 uniform8 single best appo impala report eval
set -euo pipefail
cd "$(dirname "$0")/.."
results=/tmp/bench
if [[ "${1:-}" == "--results-dir" ]]; then results="$2"; shift 2; fi
steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(lbc uniform lbc8 uniform8 single best appo impala report eval)
bl=.venv/bin/behaviorlab; py=.venv/bin/python
[[ -x $bl ]] || { bl=behaviorlab; py=python; }
for step in "${steps[@]}"; do
  case "$step" in
    lbc|uniform|lbc8|uniform8|single|appo|impala)
      $bl run "benchmarks/specs/lbc-minatar-breakout-$step.yaml" --results-dir "$results" \
        --name "lbc-minatar-breakout-$step" ;;
    best)
      arm=$($py benchmarks/lbc_minatar_report.py --results-dir "$results" --best-member)
      echo "best single member on seed 0: $arm"
      spec="$results/lbc-minatar-breakout-best.yaml"
      ARM=$arm SPEC="$spec" $py - <<'PY'
import os, yaml
spec = yaml.safe_load(open("benchmarks/specs/lbc-minatar-breakout-single.yaml"))
arm = int(os.environ["ARM"])
spec.update(name="lbc-minatar-breakout-best", seeds=[1, 2])
spec["config"]["meta_controller"] = next(choice for choice in spec["config"]["meta_controller"]["grid_search"]
                                         if choice["pinned_arm"] == arm)
yaml.safe_dump(spec, open(os.environ["SPEC"], "w"), sort_keys=False)
PY
      $bl run "$spec" --results-dir "$results" --name lbc-minatar-breakout-best ;;
    report)
      $py benchmarks/lbc_minatar_report.py --results-dir "$results" --out docs/benchmarks/lbc_minatar ;;
    eval)  # members' own policies and the fixed inference ψ from the final checkpoints, 100 episodes each (≈ 15 min)
      $py benchmarks/lbc_minatar_eval.py --results-dir "$results" --episodes 100 > docs/benchmarks/lbc_minatar/eval.md ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
