"""STEVE Pendulum-v1 runs by target reduction: env steps to a return threshold, returns at equal
env steps, wall time per env step.

The return "at X" is `pendulum_report.window_return`: the mean over the episodes that ended in
the 1,000 env steps up to X (five 200-step episodes), so runs with different iteration sizes
compare alike. "Env steps to −250" is the first X (on a 1k grid) whose window return is ≥ −250.

"Model use" is the learner's last logged 1 − w_0 (the mean weight off horizon 0).

Usage: python benchmarks/steve_pendulum_report.py EXPERIMENT_DIR [...] [--at 5000 10000 20000]
       [--plot FIGURE.png]   (the window returns on the 1k grid, mean over seeds per reduction)
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

from pendulum_report import STEPS, window_return

from behaviorlab.platform.report import caption_band, plot_mean_band, read_results

MODEL_USE = "learners/default_policy/model_use"


def steps_to(rows: list[dict], threshold: float, grid: int = 1000) -> int | None:
    last = int(rows[-1][STEPS]) if rows else 0
    for at in range(grid, last + 1, grid):
        value = window_return(rows, at)
        if value is not None and value >= threshold:
            return at
    return None


def plot(trials: dict, path: Path, threshold: float, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 4.5))
    banded = False
    for reduction, runs in trials.items():
        last = max(int(rows[-1][STEPS]) for _, rows in runs)
        grid = list(range(1000, last + 1, 1000))
        values = [[np.nan if (v := window_return(rows, at)) is None else v for at in grid] for _, rows in runs]
        banded = plot_mean_band(ax, grid, values, reduction) or banded
    ax.axhline(threshold, color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="env steps", ylabel="return (episodes of the last 1k env steps)", title=title)
    ax.legend()
    if banded:
        caption_band(fig, "mean over seeds (a seed counts up to its last env step)")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=100)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", type=Path, nargs="+")
    parser.add_argument("--at", type=float, nargs="+", default=[5_000, 10_000, 20_000])
    parser.add_argument("--threshold", type=float, default=-250.0)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--title", default="STEVE vs its ablations, Pendulum-v1", help="the plot's title")
    args = parser.parse_args(argv)
    trials = defaultdict(list)
    for experiment in args.experiments:
        for trial in sorted(experiment.glob("trial_*")):
            params = json.loads((trial / "params.json").read_text()) if (trial / "params.json").exists() else {}
            rows = read_results(trial)
            if rows:
                trials[params.get("target_reduction", "?")].append((params.get("seed"), rows))
    header = " | ".join(f"return at {x / 1000:g}k" for x in args.at)
    print(f"| target_reduction | seed | env steps to {args.threshold:g} | {header} | env steps | s per 1k env steps "
          "| model use |")
    print("|---|---|---|" + "---|" * len(args.at) + "---|---|---|")
    for reduction, runs in trials.items():
        for seed, rows in runs:
            reached = steps_to(rows, args.threshold)
            cells = " | ".join("–" if (v := window_return(rows, x)) is None else f"{v:.0f}" for x in args.at)
            steps, wall = rows[-1][STEPS], rows[-1].get("time_total_s", float("nan"))
            use = rows[-1].get(MODEL_USE)
            print(f"| {reduction} | {seed} | {'not reached' if reached is None else f'{reached:,}'} | {cells} | "
                  f"{steps:,.0f} | {1000 * wall / steps:.0f} | {'–' if use is None else f'{use:.2f}'} |")
    if args.plot:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        plot(trials, args.plot, args.threshold, args.title)


if __name__ == "__main__":
    main()
