"""Pendulum-v1 returns at equal env steps for experiments whose iterations differ in size.

RLlib's `episode_return_mean` averages the episodes that ended in one iteration: five 200-step
episodes for ACER's and SVG0Prior's 1,000-step iterations, but at most one for SAC's ≈ 100-step
iterations. To compare like with like, the return "at X env steps" here is the mean over every
episode that ended in the 1,000 env steps up to X (five episodes for all three learners).

Usage: python benchmarks/pendulum_report.py EXPERIMENT_DIR [...] [--at 10000 15000 20000]
Prints a markdown table: per seed and mean ± std over seeds that reached the last step count,
plus each seed's wall time (Tune `time_total_s`).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from behaviorlab.platform.report import read_results

STEPS = "num_env_steps_sampled_lifetime"
RETURN = "env_runners/episode_return_mean"
EPISODES = "env_runners/num_episodes"


def window_return(rows: list[dict], at: float, width: float = 1000) -> float | None:
    """Mean return of the episodes that ended in (at − width, at]."""
    total = count = 0.0
    for row in rows:
        episodes = row.get(EPISODES) or 0
        if at - width < row[STEPS] <= at and row.get(RETURN) is not None and episodes:
            total += row[RETURN] * episodes
            count += episodes
    return total / count if count else None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", type=Path, nargs="+")
    parser.add_argument("--at", type=float, nargs="+", default=[10_000, 15_000, 20_000])
    args = parser.parse_args(argv)
    header = " | ".join(f"return at {x / 1000:g}k" for x in args.at)
    lines = [f"| experiment | seed | {header} | wall s |", "|---|---|" + "---|" * len(args.at) + "---|"]
    for experiment in args.experiments:
        complete = []
        for trial in sorted(experiment.glob("trial_*")):
            rows = read_results(trial)
            if not rows:
                continue
            seed = re.search(r"seed=(\d+)", trial.name)
            values = [window_return(rows, x) for x in args.at]
            cells = " | ".join("–" if v is None else f"{v:.0f}" for v in values)
            lines.append(f"| {experiment.name} | {seed.group(1) if seed else '?'} | {cells} | "
                         f"{rows[-1].get('time_total_s', float('nan')):.0f} |")
            if None not in values:
                complete.append(values)
        if complete:
            values = np.array(complete)
            spread = values.std(0, ddof=1) if len(values) > 1 else np.zeros(len(args.at))
            cells = " | ".join(f"{m:.0f} ± {s:.0f}" for m, s in zip(values.mean(0), spread))
            lines.append(f"| {experiment.name} | mean ± std ({len(values)}) | {cells} | |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
