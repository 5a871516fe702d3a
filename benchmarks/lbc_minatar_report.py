"""Tables and plots of the LBC benchmark on MinAtar (issue #5; `benchmarks/lbc_minatar.sh`).

Reads every trial's result.json under RESULTS/PREFIX{lbc,uniform,lbc8,uniform8,lbc8lp,uniform8lp,lbc12lp,uniform12lp,lbc12shared,members,sharp,single,best,member0-2,appo,impala}
(PREFIX: lbc-minatar-breakout- by default; --prefix and --env-steps for other games and budgets)
with `behaviorlab.platform.report.read_results` and writes, under --out:
  returns.png  mean return vs env steps per variant (mean over seeds, shaded: 95 % bootstrap CI);
  arms.png     the LBC runs' arm selection vs env steps (share of the episodes of each τ bin and
               of each ω group, from the per-arm lifetime pull counts);
  table.md     return at ¼, ½, ¾ and all of the budget (each seed: mean over the iterations in the last
               `--window` env steps before that point), area under the curve, env steps/s.
`env_runners/episode_return_mean` is the mean over the episodes that ended in one iteration.

    python benchmarks/lbc_minatar_report.py --results-dir /tmp/bench --out docs/benchmarks/lbc_minatar
    python benchmarks/lbc_minatar_report.py --results-dir /tmp/bench --best-member   # prints i
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from behaviorlab.platform.report import caption_band, plot_mean_band, read_results

RETURN = "env_runners/episode_return_mean"
STEPS = "num_env_steps_sampled_lifetime"
REPLAY_START = 5_000
TOL = 1_000  # env steps: iterations are ≈ 2.1k env steps for LBC
LBC8 = "LBC, 8 arms (τ ≤ 2.2, UCB c ≤ 0.3)"
LBC8_LOG_PROBS = "LBC, 8 arms on log π (τ ∈ [0.5, 2])"
LBC12_LOG_PROBS = "LBC, 12 arms on log π (τ ∈ [0.25, 2])"
LBC12_SHARED = "LBC, 12 arms on log π, shared torso"
LBC_MEMBERS = "LBC, bandit over the 3 members (τ = 1, ω one-hot)"
CONFIG_KEYS = ("seed", "meta_controller/pinned_arm")  # LBC's replay_start in the specs: the learner-bound phase begins here


@dataclass(frozen=True)
class Benchmark:
    """Which runs the report reads: experiment names PREFIX+variant, each trained for `env_steps`."""
    prefix: str = "lbc-minatar-breakout-"
    env_steps: int = 40_000
    title: str = "MinAtar Breakout"
    random_return: float = 0.39

    @property
    def checkpoints(self) -> tuple[int, ...]:
        return tuple(self.env_steps * k // 4 for k in (1, 2, 3, 4))

    @property
    def grid(self) -> np.ndarray:
        return np.arange(2_000, self.env_steps + 1, 1_000)

    @property
    def budget(self) -> str:
        return f"{self.env_steps // 1000}k"


BENCH = Benchmark()  # main() replaces it from the command line


def trials(results: Path, variant: str) -> list[tuple[str, list[dict]]]:
    """(trial name, rows) of every trial of the experiments PREFIX+variant and PREFIX+variant-*
    (the same runs split over several experiments, e.g. single-m0 … single-m2), sorted by name."""
    found = []
    prefix = BENCH.prefix
    paths = [*(results / f"{prefix}{variant}").glob("*/result.json"), *results.glob(f"{prefix}{variant}-*/*/result.json")]
    for result in sorted(paths, key=lambda path: (path.parent.parent.name, path.parent.name)):
        rows = [row for row in read_results(result.parent, CONFIG_KEYS) if row.get(STEPS) is not None]
        if rows:
            found.append((result.parent.name, rows))
    return found


def seed_of(rows: list[dict]) -> int | None:
    seed = rows[0].get("config/seed")
    return None if seed is None else int(seed)


def pinned_arm(rows: list[dict], trial: str) -> int | None:
    arm = rows[0].get("config/meta_controller/pinned_arm")
    if arm is None:
        match = re.search(r"pinned_arm=(\d)", trial)
        arm = match and match.group(1)
    return None if arm is None else int(arm)


def curve(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Env steps and per-iteration mean return (iterations without a finished episode dropped)."""
    pairs = [(row[STEPS], row[RETURN]) for row in rows
             if row.get(RETURN) is not None and not math.isnan(row[RETURN])]
    steps, returns = map(np.asarray, zip(*pairs)) if pairs else (np.zeros(0), np.zeros(0))
    return steps.astype(float), returns.astype(float)


def value_at(steps: np.ndarray, returns: np.ndarray, at: float, window: float) -> float:
    """Mean return over the iterations that end in (at − window + TOL, at + TOL]; NaN if the run
    stopped earlier. TOL (half an LBC iteration) lets the iteration that crosses `at` count."""
    if not len(steps) or steps[-1] < at - TOL:
        return math.nan
    mask = (steps > at - window + TOL) & (steps <= at + TOL)
    return float(returns[mask].mean()) if mask.any() else math.nan


def on_grid(steps: np.ndarray, returns: np.ndarray, window: float) -> np.ndarray:
    return np.array([value_at(steps, returns, at, window) for at in BENCH.grid])


def auc(steps: np.ndarray, returns: np.ndarray) -> float:
    """Mean return over [0, budget] (trapezoid area / budget): the area under the curve on the return scale."""
    end = BENCH.env_steps
    if not len(steps) or steps[-1] < end - TOL:
        return math.nan
    # The curve from 0 (held at its first value) to `end` (interpolated when an iteration crosses it).
    mask = steps < end
    x = np.concatenate([[0.0], steps[mask], [end]])
    y = np.concatenate([[returns[0]], returns[mask], [np.interp(end, steps, returns)]])
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2) / end)


def throughput(rows: list[dict]) -> tuple[float, float]:
    """Env steps/s over the whole run (wall time of the trial, startup included from its first
    iteration) and after replay starts (from the first iteration past REPLAY_START)."""
    last = rows[-1]
    overall = last[STEPS] / last["time_total_s"]
    after = [row for row in rows if row[STEPS] >= REPLAY_START]
    if len(after) >= 2:
        late = (after[-1][STEPS] - after[0][STEPS]) / (after[-1]["time_total_s"] - after[0]["time_total_s"])
    else:
        late = math.nan
    return overall, late


def fmt(values: list[float], digits: int = 2) -> str:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}"


def best_member(results: Path) -> int:
    """The pinned member with the largest area under the return curve on seed 0."""
    scores = {}
    for trial, rows in trials(results, "single"):
        if seed_of(rows) in (0, None):
            scores[pinned_arm(rows, trial)] = auc(*curve(rows))
    if not scores or any(arm is None for arm in scores):
        sys.exit(f"no complete single-member trials with a pinned_arm under {results}/{BENCH.prefix}single")
    for arm, score in sorted(scores.items()):
        print(f"member {arm}: mean return over 0–{BENCH.budget} env steps {score:.3f}", file=sys.stderr)
    return max(scores, key=lambda arm: -math.inf if math.isnan(scores[arm]) else scores[arm])


def variants(results: Path) -> dict[str, list[tuple[str, list[dict]]]]:
    """Label → trials. Single members: 'member i (seed 0)' each, 'best single member (i)'
    = member i's seed-0 trial plus the 'best' experiment's seeds 1 and 2, and 'other single member (j, fixed ψ)'
    likewise from a 'member<j>' experiment (a member not chosen on seed 0)."""
    out = {"LBC (bandit)": trials(results, "lbc"), "uniform random ψ": trials(results, "uniform"),
           LBC8: trials(results, "lbc8"), "uniform random ψ over those 8 arms": trials(results, "uniform8"),
           LBC8_LOG_PROBS: trials(results, "lbc8lp"), "uniform random ψ over the log π arms": trials(results, "uniform8lp"),
           LBC12_LOG_PROBS: trials(results, "lbc12lp"), "uniform random ψ over the 12 log π arms": trials(results, "uniform12lp"),
           LBC12_SHARED: trials(results, "lbc12shared"),
           LBC_MEMBERS: trials(results, "members"),
           "member 1 sharpened (τ ∈ [0.25, 0.5]), fixed ψ": trials(results, "sharp")}
    singles = {pinned_arm(rows, trial): (trial, rows) for trial, rows in trials(results, "single")}
    best = trials(results, "best")
    best_arm = None
    if best:
        best_arm = pinned_arm(best[0][1], best[0][0])
        out[f"best single member ({best_arm}, fixed ψ)"] = ([singles[best_arm]] if best_arm in singles else []) + best
    for arm in sorted(a for a in singles if a is not None and a != best_arm):
        if more_seeds := trials(results, f"member{arm}"):  # the `member<i>` steps: seeds 1 and 2
            out[f"other single member ({arm}, fixed ψ)"] = [singles[arm]] + more_seeds
    for arm in sorted(a for a in singles if a is not None):
        out[f"member {arm} alone (seed 0)"] = [singles[arm]]
    out["RLlib APPO"] = trials(results, "appo")
    out["RLlib IMPALA"] = trials(results, "impala")
    return {label: found for label, found in out.items() if found}


def table(groups: dict, window: float) -> str:
    checkpoints = BENCH.checkpoints
    lines = ["| variant | seeds | " + " | ".join(f"return at {c / 1000:g}k" for c in checkpoints)
             + f" | mean return 0–{BENCH.budget} (AUC) | env steps/s overall | after 5k steps |",
             "|---" * (len(checkpoints) + 5) + "|"]
    for label, found in groups.items():
        seeds = ", ".join(str(seed_of(rows)) for _, rows in found)
        cells = [fmt([value_at(*curve(rows), c, window) for _, rows in found]) for c in checkpoints]
        rates = [throughput(rows) for _, rows in found]
        lines.append(f"| {label} | {seeds} | " + " | ".join(cells)
                     + f" | {fmt([auc(*curve(rows)) for _, rows in found])}"
                     + f" | {fmt([r[0] for r in rates], 0)} | {fmt([r[1] for r in rates], 0)} |")
    return "\n".join(lines)


def per_seed(groups: dict, window: float) -> str:
    checkpoints = BENCH.checkpoints
    lines = ["| variant | seed | " + " | ".join(f"{c / 1000:g}k" for c in checkpoints) + " | AUC | env steps | wall s |",
             "|---" * (len(checkpoints) + 5) + "|"]
    for label, found in groups.items():
        for trial, rows in found:
            steps, returns = curve(rows)
            cells = " | ".join(f"{value_at(steps, returns, c, window):.2f}" for c in checkpoints)
            lines.append(f"| {label} | {seed_of(rows)} | {cells} | {auc(steps, returns):.2f} | "
                         f"{rows[-1][STEPS]:,.0f} | {rows[-1]['time_total_s']:.0f} |")
    return "\n".join(lines)


def plot_returns(groups: dict, window: float, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    banded = False
    for label, found in groups.items():
        if label.startswith("member "):
            continue  # the seed-0 selection runs; the best member is plotted with its 3 seeds
        values = np.array([on_grid(*curve(rows), window) for _, rows in found])
        banded = plot_mean_band(ax, BENCH.grid, values, label) or banded
    ax.axhline(BENCH.random_return, color="grey", ls=":", label=f"random play ({BENCH.random_return:g})")
    ax.set_xlabel("env steps")
    ax.set_ylabel(f"episode return (mean of iterations in the last {window / 1000:g}k steps)")
    ax.set_title(f"{BENCH.title}, {BENCH.budget} env steps")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k")
    if banded:  # a seed that stopped early has no value after its end (value_at): left out there
        caption_band(fig, "mean over the seeds that ran to that point")
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def arm_groups(num_arms: int, meta_controller: dict | None = None) -> tuple[list[str], list[str]]:
    """τ-bin and ω-group label of each arm, from the arm construction of the spec's meta-controller
    settings (default: MetaControllerConfig's, 3 τ bins × [one_hot ×3, dominant ×3, uniform])."""
    from behaviorlab.algorithms.lbc.meta_controller import (
        MetaControllerConfig,
        build_arms,
    )

    arms = build_arms(3, MetaControllerConfig(**(meta_controller or {})))
    if len(arms) != num_arms:
        raise SystemExit(f"expected {len(arms)} arms (meta-controller {meta_controller or 'defaults'}, 3 members), "
                         f"found {num_arms}")
    taus = [f"τ ∈ [{a.tau_low:.2g}, {a.tau_high:.2g}]" for a in arms]
    omegas = ["ω uniform" if a.member is None else f"ω on member {a.member}" for a in arms]
    return taus, omegas, arms


def plot_arms(found: list, path: Path, meta_controller: dict | None = None, bin_steps: int = 4_000) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    num_arms = len({key.split("/")[1] for key in found[0][1][-1] if key.startswith("meta_controller/arm_")})
    taus, omegas, arms = arm_groups(num_arms, meta_controller)
    edges = np.arange(0, BENCH.env_steps + 1, bin_steps)
    # Per seed: episodes finished per arm in each env-step bin (lifetime pulls interpolated).
    counts = []
    for _, rows in found:
        steps = np.array([0.0] + [row[STEPS] for row in rows])
        pulls = np.array([[0.0] * num_arms] + [[row[f"meta_controller/arm_{k:02d}/pulls"] for k in range(num_arms)] for row in rows])
        at_edges = np.stack([np.interp(edges, steps, pulls[:, k]) for k in range(num_arms)], axis=1)
        bin_counts = np.diff(at_edges, axis=0)
        bin_counts[edges[1:] > steps[-1] + TOL] = np.nan  # bins after the run stopped
        counts.append(bin_counts)
    share = np.array([c / np.maximum(c.sum(axis=1, keepdims=True), 1) for c in counts])  # [seeds, bins, arms]
    centres = (edges[1:] + edges[:-1]) / 2

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, labels, title in ((axes[0], taus, "by τ bin (all ω)"), (axes[1], omegas, "by ω region (all τ)")):
        for group in dict.fromkeys(labels):
            idx = [k for k, label in enumerate(labels) if label == group]
            group_share = share[:, :, idx].sum(axis=2)
            mean = np.nanmean(group_share, axis=0)
            line, = ax.plot(centres, mean, marker="o", label=f"{group} ({len(idx)} arms)")
            ax.fill_between(centres, np.nanmin(group_share, axis=0), np.nanmax(group_share, axis=0), color=line.get_color(), alpha=0.15)
            ax.axhline(len(idx) / num_arms, color=line.get_color(), ls=":", lw=0.8)
        ax.set_title(f"LBC arm selection {title}")
        ax.set_xlabel("env steps")
        ax.set_ylabel(f"share of episodes in each {bin_steps // 1000}k-step bin")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in axes:
        ax.xaxis.set_major_formatter(lambda x, _: f"{x / 1000:g}k")
    mean_share = np.nanmean(share, axis=0).T  # [arms, bins]
    image = axes[2].imshow(mean_share, aspect="auto", origin="lower", cmap="viridis",
                           extent=(edges[0], edges[-1], -0.5, num_arms - 0.5))
    axes[2].set_yticks(range(num_arms))
    axes[2].set_yticklabels([f"{k}: {t.split('[')[1][:-1]} / " + ("uniform" if a.member is None else f"m{a.member}/{a.omega_mode}")
                             for k, (t, a) in enumerate(zip(taus, arms))], fontsize=6)
    axes[2].set_title("per arm (mean over seeds)")
    axes[2].set_xlabel("env steps")
    fig.colorbar(image, ax=axes[2], label="share")
    fig.suptitle(f"Lines: mean over {len(found)} seeds (band: min–max); dotted: the uniform share", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def arm_returns(groups: dict) -> str:
    """Each bandit run's mean episode return per τ bin and per ω region at the end (the arms'
    `window_mean_return` over the largest bandit window, ≈ the last 400 episodes, averaged over the
    arms of the group), next to the run's overall return: the behaviour's return mixes greedy and
    near-uniform arms, so this shows what the better arms score."""
    lines = ["| variant | " + " | ".join(f"τ ∈ [{lo}]" for lo in ("0.1, 0.46", "0.46, 2.2", "2.2, 10"))
             + " | ω one-hot | ω dominant | ω uniform |", "|---" * 7 + "|"]
    for label in ("LBC (bandit)", "uniform random ψ"):
        found = groups.get(label, [])
        if not found:
            continue
        arms = arm_groups(21)[2]
        finals = [np.array([rows[-1][f"meta_controller/arm_{k:02d}/window_mean_return"] for k in range(len(arms))]) for _, rows in found]
        cells = []
        for pick in ([a.tau_low < 0.2 for a in arms], [0.2 < a.tau_low < 1 for a in arms], [a.tau_low > 1 for a in arms],
                     [a.omega_mode == "one_hot" for a in arms], [a.omega_mode == "dominant" for a in arms],
                     [a.omega_mode == "uniform" for a in arms]):
            cells.append(fmt([float(np.nanmean(final[np.array(pick)])) for final in finals]))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    warnings.filterwarnings("ignore", category=RuntimeWarning)  # nanmean of empty grid points
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results-dir", type=Path, default=Path("/tmp/bench"))
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/lbc_minatar"))
    parser.add_argument("--window", type=float, default=6_000, help="env steps averaged into each point (default 6000, ≈ 3 LBC iterations)")
    parser.add_argument("--best-member", action="store_true", help="print the best pinned member on seed 0 and exit")
    parser.add_argument("--prefix", default=Benchmark.prefix, help="experiment names are PREFIX + variant")
    parser.add_argument("--env-steps", type=int, default=Benchmark.env_steps, help="the runs' budget")
    parser.add_argument("--title", default=Benchmark.title)
    parser.add_argument("--random-return", type=float, default=Benchmark.random_return, help="random play's mean return")
    args = parser.parse_args()
    global BENCH
    BENCH = Benchmark(args.prefix, args.env_steps, args.title, args.random_return)
    if args.best_member:
        print(best_member(args.results_dir))
        return
    groups = variants(args.results_dir)
    args.out.mkdir(parents=True, exist_ok=True)
    plot_returns(groups, args.window, args.out / "returns.png")
    if "LBC (bandit)" in groups:
        plot_arms(groups["LBC (bandit)"], args.out / "arms.png")
    for label, step, image in ((LBC8, "lbc8", "arms_8.png"), (LBC8_LOG_PROBS, "lbc8lp", "arms_8_log_probs.png"),
                               (LBC12_LOG_PROBS, "lbc12lp", "arms_12_log_probs.png"),
                               (LBC12_SHARED, "lbc12shared", "arms_12_shared.png"),
                               (LBC_MEMBERS, "members", "arms_members.png")):
        if label in groups:
            spec = yaml.safe_load((args.results_dir / f"{BENCH.prefix}{step}" / "behaviorlab" / "spec.yaml").read_text())
            plot_arms(groups[label], args.out / image, spec["config"]["meta_controller"])
    text = f"{table(groups, args.window)}\n\nPer seed:\n\n{per_seed(groups, args.window)}\n"
    if {"LBC (bandit)", "uniform random ψ"} & set(groups):  # the 21-arm runs' arm groups
        text += f"\nReturn per arm group at {BENCH.budget} (last ≈ 400 episodes):\n\n{arm_returns(groups)}\n"
    (args.out / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
