"""`python -m behaviorlab.algorithms.causal_confusion SPEC [--smoke] [--out DIR]`: run the study (study.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError


def main(argv: list[str] | None = None) -> int:
    from behaviorlab.algorithms.causal_confusion.study import load_spec, run_study

    parser = argparse.ArgumentParser(prog="python -m behaviorlab.algorithms.causal_confusion", description=__doc__)
    parser.add_argument("spec", help="a study spec, e.g. benchmarks/causal_confusion/mountaincar.yaml")
    parser.add_argument("--smoke", action="store_true", help="apply the spec's `smoke` overrides: a quick real check")
    parser.add_argument("--out", help="results directory (default ~/behaviorlab_results/NAME[-smoke])")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(args.spec, smoke=args.smoke)
    except (OSError, ValidationError) as error:
        message = str(error).replace("\n", "; ")
        print(f"error: {args.spec}: {message}", file=sys.stderr)
        return 2
    out = Path(args.out or Path("~/behaviorlab_results").expanduser() / (spec.name + ("-smoke" if args.smoke else "")))
    run_study(spec, out)
    print(f"results: {out} (runs.json, summary.md, a trial directory per size and seed: `behaviorlab report {out}`)")
    print((out / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
