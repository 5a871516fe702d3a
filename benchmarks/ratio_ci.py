"""Ratio of the mean env steps two algorithms need to reach a return, with a 95 % bootstrap interval
(each algorithm's seeds resampled on their own), e.g. docs/benchmarks.md's "ACER needs 0.27× PPO's
env steps (0.20–0.34)":

    python benchmarks/ratio_ci.py RESULTS/cartpole-acer RESULTS/cartpole-ppo --threshold 475
    python benchmarks/ratio_ci.py --steps 14.1e3,12.1e3,... --steps 34e3,24e3,...   # per-seed values

Seeds that never reach the threshold are left out (and counted in the output).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from behaviorlab.platform.report import STEPS_KEY, load_experiment
from behaviorlab.platform.spec import result_key


def ratio_interval(numerator, denominator, *, resamples: int = 20_000, seed: int = 0) -> dict[str, float]:
    """mean(numerator) / mean(denominator), its 95 % percentile bootstrap interval, and the share of
    draws at or below 1/3 (the ACER issue's goal)."""
    a, b = np.asarray(numerator, float), np.asarray(denominator, float)
    if len(a) == 0 or len(b) == 0:
        raise ValueError("both sides need at least one seed that reached the threshold")
    rng = np.random.default_rng(seed)
    draws = (a[rng.integers(0, len(a), (resamples, len(a)))].mean(1)
             / b[rng.integers(0, len(b), (resamples, len(b)))].mean(1))
    low, high = np.percentile(draws, [2.5, 97.5])
    return {"ratio": float(a.mean() / b.mean()), "low": float(low), "high": float(high),
            "share_at_most_a_third": float((draws <= 1 / 3).mean())}


def steps_to_threshold(experiment_dir: str, threshold: float, metric: str) -> tuple[list[float], int]:
    """Env steps at which each trial first reached the threshold, and the number of trials."""
    trials = load_experiment(experiment_dir).trials
    hits = [trial.first_reaching(result_key(metric), threshold) for trial in trials]
    return [float(hit[STEPS_KEY]) for hit in hits if hit is not None], len(trials)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="*", help="two experiment directories: numerator, denominator")
    parser.add_argument("--threshold", type=float, help="return to reach (with experiment directories)")
    parser.add_argument("--metric", default="episode_return_mean", help="result column (default: %(default)s)")
    parser.add_argument("--steps", action="append", default=[],
                        help="comma-separated env steps to the threshold per seed; give it twice instead of "
                             "experiment directories")
    parser.add_argument("--resamples", type=int, default=20_000, help="bootstrap draws (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.steps:
        if len(args.steps) != 2 or args.experiments:
            parser.error("give --steps twice (numerator, denominator) and no experiment directories")
        sides = [([float(v) for v in values.split(",")], None) for values in args.steps]
    else:
        if len(args.experiments) != 2 or args.threshold is None:
            parser.error("give two experiment directories and --threshold")
        sides = [steps_to_threshold(path, args.threshold, args.metric) for path in args.experiments]
    try:
        result = ratio_interval(sides[0][0], sides[1][0], resamples=args.resamples)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for name, (steps, trials) in zip(("numerator", "denominator"), sides):
        reached = f"{len(steps)}/{trials}" if trials is not None else str(len(steps))
        print(f"{name}: {reached} seeds reached it, mean {np.mean(steps):,.0f} env steps")
    print(f"ratio {result['ratio']:.2f} (95 % bootstrap interval {result['low']:.2f}–{result['high']:.2f}); "
          f"≤ 1/3 in {100 * result['share_at_most_a_third']:.0f} % of draws")
    return 0


if __name__ == "__main__":
    sys.exit(main())
