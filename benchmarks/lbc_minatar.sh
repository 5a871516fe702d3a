#!/usr/bin/env bash
# LBC benchmark (issue #5) on MinAtar Breakout at 40k env steps each: LBC vs uniform random ψ vs the
# best single member (fixed ψ) vs RLlib APPO and IMPALA, 3 seeds (benchmarks/specs/lbc-minatar-breakout-*.yaml).
# The best member is chosen on seed 0 (largest area under the return curve of the three pinned
# members), then run with seeds 1 and 2. One trial at a time; an LBC trial takes ≈ 4–10 min on 2
# shared CPU cores (11 of them, ≈ 1–1.5 h in all), an APPO trial ≈ 2 min. Steps can run in two
# shells at once (e.g. `lbc single best` and `uniform appo`, starting `best` after `single`).
# Output: docs/benchmarks/lbc_minatar/{returns,arms}.png, table.md and eval.md.
# GAME=asterix runs benchmarks/specs/lbc-minatar-asterix-*.yaml (steps lbc8 uniform8 single best
# report eval); ENV_STEPS=N runs the specs with that budget as experiments lbc-minatar-GAME-<N/1000>k-*
# (output docs/benchmarks/lbc_minatar_GAME_<N/1000>k/). ENTROPY=a,b,c replaces the members' entropy costs
# in every spec (experiments …-ent<a>-<b>-<c>-*, output …_ent<a>-<b>-<c>/).
#   [GAME=breakout|asterix] [ENV_STEPS=N] [ENTROPY=a,b,c] benchmarks/lbc_minatar.sh [--results-dir DIR] [STEP ...]
#   STEP: lbc uniform lbc8 uniform8 lbc8lp uniform8lp lbc12lp uniform12lp lbc12shared members sharp single best member0 member1 member2 appo impala report eval
# (members: the bandit over the 3 members themselves, Agent57-style; sharp: Breakout's member 1 alone with a fixed ψ as sharp as the 12-arm LBC's favourite τ bin)
set -euo pipefail
cd "$(dirname "$0")/.."
results=/tmp/bench
if [[ "${1:-}" == "--results-dir" ]]; then results="$2"; shift 2; fi
steps=("$@")
[[ ${#steps[@]} -gt 0 ]] || steps=(lbc uniform lbc8 uniform8 single best appo impala report eval)
game=${GAME:-breakout}
env_id=MinAtar/${game^}-v1
prefix=lbc-minatar-$game-
out=docs/benchmarks/lbc_minatar
[[ "$game" == breakout ]] || out=${out}_$game
if [[ -n "${ENV_STEPS:-}" ]]; then
  prefix=$prefix$((ENV_STEPS / 1000))k-
  out=${out}_$((ENV_STEPS / 1000))k
fi
if [[ -n "${ENTROPY:-}" ]]; then
  entropy_tag=ent${ENTROPY//,/-}
  prefix=$prefix$entropy_tag-
  out=${out}_$entropy_tag
fi
bl=.venv/bin/behaviorlab; py=.venv/bin/python
[[ -x $bl ]] || { bl=behaviorlab; py=python; }
mkdir -p "$results/specs"

# derive SOURCE_SPEC NAME [PINNED_ARM]: the spec as experiment NAME with the budget ENV_STEPS; with
# PINNED_ARM, the single-member spec's choice for that member and seeds 1 and 2 (the `best` and `member<i>` steps).
derive() {
  SOURCE="$1" NAME="$2" ARM="${3:-}" SPEC="$results/specs/$2.yaml" $py - <<'PY'
import os, yaml
spec = yaml.safe_load(open(os.environ["SOURCE"]))
spec["name"] = os.environ["NAME"]
if os.environ.get("ENV_STEPS"):
    spec["stop"] = {"env_steps": int(os.environ["ENV_STEPS"])}
if os.environ.get("ENTROPY") and "member_entropy_coeffs" in spec["config"]:
    spec["config"]["member_entropy_coeffs"] = [float(cost) for cost in os.environ["ENTROPY"].split(",")]
if os.environ["ARM"]:
    spec["seeds"] = [1, 2]
    spec["config"]["meta_controller"] = next(choice for choice in spec["config"]["meta_controller"]["grid_search"]
                                             if choice["pinned_arm"] == int(os.environ["ARM"]))
yaml.safe_dump(spec, open(os.environ["SPEC"], "w"), sort_keys=False)
PY
  echo "$results/specs/$2.yaml"
}

report_args=(--results-dir "$results" --prefix "$prefix" --env-steps "${ENV_STEPS:-40000}" --title "MinAtar ${game^}")
[[ "$game" == asterix ]] && report_args+=(--random-return 0.50)  # measured: 5,000 random episodes
for step in "${steps[@]}"; do
  case "$step" in
    lbc|uniform|lbc8|uniform8|lbc8lp|uniform8lp|lbc12lp|uniform12lp|lbc12shared|members|sharp|single|appo|impala)
      spec=$(derive "benchmarks/specs/lbc-minatar-$game-$step.yaml" "$prefix$step")
      $bl run "$spec" --results-dir "$results" --name "$prefix$step" ;;
    member[0-2])  # that member pinned, seeds 1 and 2: with `single`'s seed 0, any member over 3 seeds
      spec=$(derive "benchmarks/specs/lbc-minatar-$game-single.yaml" "$prefix$step" "${step#member}")
      $bl run "$spec" --results-dir "$results" --name "$prefix$step" ;;
    best)
      arm=$($py benchmarks/lbc_minatar_report.py "${report_args[@]}" --best-member)
      echo "best single member on seed 0: $arm"
      spec=$(derive "benchmarks/specs/lbc-minatar-$game-single.yaml" "${prefix}best" "$arm")
      $bl run "$spec" --results-dir "$results" --name "${prefix}best" ;;
    report)
      $py benchmarks/lbc_minatar_report.py "${report_args[@]}" --out "$out" ;;
    eval)  # members' own policies, the fixed inference ψ and the bandit's best arm from the final checkpoints, 100 episodes each (≈ 15 min)
      # --trust-checkpoints: these are this script's own checkpoints (the bandit's state is in RLlib's pickle).
      $py benchmarks/lbc_minatar_eval.py --results-dir "$results" --prefix "$prefix" --env "$env_id" \
        --episodes 100 --trust-checkpoints > "$out/eval.md" ;;
    *) echo "unknown step $step" >&2; exit 2 ;;
  esac
done
