"""Report of benchmarks/ptgm_babyai.sh and ptgm_crafter.sh: env steps to stable success on a
downstream task (a BabyAI level, a Crafter achievement) for PTGM (λ = 0.05), PTGM without the goal
prior (λ = 0), PTGM with an off-policy (ACER) high level, flat PPO and the continuous-skill (VAE)
baseline (PTGMVAESkills; ptgm_crafter.sh's vae variant), all counted in LOW-level env
steps, plus the wall time of the offline stages (dataset, π_L, codebook, prior).

Stable success: the first iteration i whose per-iteration `episode_return_mean` (RLlib's mean
over the episodes that ended in that iteration) is ≥ THRESHOLD at i and at the next CONSECUTIVE − 1 iterations; the
step count reported is the cumulative low-level env steps at the end of iteration i. A seed that
never gets there counts as not reached (shown as "> budget"; the mean then is a lower bound).
Low-level env steps: `env_runners/low_level_env_steps_lifetime` for PTGM (PTGMCallbacks),
`env_runners/num_env_steps_sampled_lifetime` for flat PPO (one env step = one low-level step); the
VAE baseline logs the former too (PTGMCallbacks).

Area under the curve (AUC): the mean return over [0, END] low-level steps (trapezoids, the first
iteration's return held from 0), END the shortest run's last step, so every seed is cut at the same
budget; where PTGM with and without the goal prior share seeds, their per-seed AUC difference is
reported too.

Usage: python benchmarks/ptgm_report.py RESULTS [--artifacts DIR] [--out DIR]
       [--threshold 0.5] [--consecutive 3] [--sensitivity 0.3,0.4,…] [--prefix ptgm-babyai-gotolocal]
       [--level "BabyAI GoToLocal"]
Writes OUT/returns.png, OUT/summary.md (tables) and OUT/steps_to_success.csv; prints summary.md.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

import numpy as np

from behaviorlab.platform.report import caption_band, held_curves, plot_mean_band, read_results

VARIANTS = (  # (experiment name after the --prefix, label)
    ("", "PTGM (λ = 0.05)"),
    ("-lambda0", "PTGM, no goal prior (λ = 0)"),
    ("-acer", "PTGM, off-policy high level (ACER, λ = 0.05)"),
    ("-flat-ppo", "flat PPO"),
    ("-vae", "continuous skills (VAE, SPiRL-style)"),
)
FLAT = "-flat-ppo"
RETURN = "env_runners/episode_return_mean"
SUCCESS = "env_runners/episode_success_mean"
LOW_LEVEL = "env_runners/low_level_env_steps_lifetime"
SAMPLED = "env_runners/num_env_steps_sampled_lifetime"
SENSITIVITY = (0.3, 0.4, 0.45, 0.5, 0.55, 0.6)


def load_variant(experiment: Path) -> dict[int, dict[str, np.ndarray]]:
    """{seed: {"steps": low-level env steps, "high": RLlib env steps, "return", "success", "time"}}."""
    seeds = {}
    for trial in sorted(experiment.glob("trial_*")):
        if not (trial / "result.json").exists():
            continue
        rows = [row for row in read_results(trial) if row.get(RETURN) is not None]
        if not rows:
            continue
        match = re.search(r"seed=(\d+)", trial.name)
        seed = int(match.group(1)) if match else len(seeds)
        high = np.array([row[SAMPLED] for row in rows], float)
        low = np.array([row.get(LOW_LEVEL, np.nan) for row in rows], float)
        seeds[seed] = {
            "steps": high if np.isnan(low).all() else low,
            "high": high,
            "return": np.array([row[RETURN] for row in rows], float),
            "success": np.array([row.get(SUCCESS, np.nan) for row in rows], float),
            "time": np.array([row.get("time_total_s", np.nan) for row in rows], float),
        }
    return seeds


def steps_to_stable(curve: dict[str, np.ndarray], threshold: float, consecutive: int) -> float | None:
    ok = curve["return"] >= threshold
    for i in range(len(ok) - consecutive + 1):
        if ok[i:i + consecutive].all():
            return float(curve["steps"][i])
    return None


def auc(steps: np.ndarray, returns: np.ndarray, end: float) -> float:
    """Mean return over [0, end]: trapezoid area / end, the first return held from 0, the curve
    interpolated at `end` (which must not lie past the last step)."""
    if end > steps[-1]:
        raise ValueError(f"end {end} lies past the curve's last step {steps[-1]}")
    mask = steps < end
    x = np.concatenate([[0.0], steps[mask], [end]])
    y = np.concatenate([[returns[0]], returns[mask], [np.interp(end, steps, returns)]])
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2) / end)


def summarise(values: list[float | None], budgets: list[float]) -> tuple[str, float | None, bool]:
    """('mean ± std' over seeds, mean, censored); unreached seeds count as their budget (the mean is
    then a lower bound, marked ≥)."""
    if not values:
        return "–", None, False
    filled = [v if v is not None else b for v, b in zip(values, budgets)]
    mean, std = float(np.mean(filled)), float(np.std(filled, ddof=1)) if len(filled) > 1 else 0.0
    censored = any(v is None for v in values)
    return f"{'≥ ' if censored else ''}{mean / 1000:.1f}k ± {std / 1000:.1f}k", mean, censored


def ratio(numerator: tuple[float | None, bool], denominator: tuple[float | None, bool]) -> str:
    """numerator / denominator of two summarise() means; ≥ / ≤ / ? where a lower bound enters."""
    (top, top_low), (bottom, bottom_low) = numerator, denominator
    if not top or not bottom:
        return "–"
    mark = {(False, False): "", (True, False): "≥ ", (False, True): "≤ ", (True, True): "? "}[(top_low, bottom_low)]
    return f"{mark}{top / bottom:.1f}×"


def _k(value: float | None, budget: float) -> str:
    return f"> {budget / 1000:.0f}k" if value is None else f"{value / 1000:.1f}k"


def wall_times(artifacts: Path) -> list[tuple[str, str, str]]:
    """(stage, wall s from the pipeline's log.txt, the stage's own `seconds`) rows."""
    log = (artifacts / "log.txt").read_text() if (artifacts / "log.txt").exists() else ""
    walls = [float(w) for w in re.findall(r"^WALL .*? ([0-9.]+) s$", log, re.MULTILINE)]
    own = {}
    for name in ("low_level", "codebook", "prior"):
        path = artifacts / f"{name}.json"
        own[name] = json.loads(path.read_text()).get("seconds") if path.exists() else None
    # The last progress line: the whole collection's rate.
    collect = ([None] + list(re.finditer(r"\[collect\].*?\| ([0-9,]+) steps \| ([0-9,]+) steps/s", log)))[-1]
    stages = [("dataset collection (`data collect`)", None), ("π_L behaviour cloning (bc)", own["low_level"]),
              ("goal codebook, KMeans (goals)", own["codebook"]), ("goal prior (prior)", own["prior"])]
    rows = []
    for index, (stage, seconds) in enumerate(stages):
        wall = f"{walls[index]:.0f}" if index < len(walls) else "–"
        inner = f"{seconds:.1f}" if seconds is not None else (f"{collect.group(2)} steps/s" if collect and index == 0 else "–")
        rows.append((stage, wall, inner))
    return rows


def dataset_size(artifacts: Path) -> str:
    log = (artifacts / "log.txt").read_text() if (artifacts / "log.txt").exists() else ""
    match = re.search(r"([0-9,]+) episodes \(.*?([0-9,]+) steps at", log)
    meta = artifacts / "data" / "metadata.json"
    what = "episodes"
    if meta.exists():
        metadata = json.loads(meta.read_text())
        attributes = metadata["attributes"]
        what = (f"bot episodes of {', '.join(attributes['levels'])}" if "levels" in attributes
                else f"{metadata.get('source', '?')} episodes of {attributes.get('env', '?')}")
    if match:
        return f"{match.group(1)} {what}, {match.group(2)} steps"
    return what


def plot(curves: dict[str, dict[int, dict]], threshold: float, level: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 4.5))
    banded = False
    for (name, label), color in zip(VARIANTS, ("tab:blue", "tab:orange", "tab:purple", "tab:green", "tab:red")):
        seeds = curves.get(name) or {}
        if not seeds:
            continue
        grid, values = held_curves([(curve["steps"], curve["return"]) for curve in seeds.values()])
        banded = plot_mean_band(ax, grid, values, label, color=color) or banded
        for curve in seeds.values():
            ax.plot(curve["steps"], curve["return"], color=color, alpha=0.25, lw=0.7)
    ax.axhline(threshold, color="grey", ls="--", lw=0.8, label=f"stable-success threshold {threshold}")
    ax.set_xlabel("low-level env steps")
    ax.set_ylabel("episode return (mean over one iteration's episodes)")
    ax.set_title(f"{level}: return vs low-level env steps (thin: seeds)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    if banded:
        caption_band(fig)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="the RESULTS directory of benchmarks/ptgm_{babyai,crafter}.sh")
    parser.add_argument("--artifacts", type=Path, help="pre-trained artifacts (for the wall-time table)")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/ptgm_babyai"))
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--consecutive", type=int, default=3)
    parser.add_argument("--sensitivity", type=lambda text: tuple(float(v) for v in text.split(",")),
                        default=SENSITIVITY, help="thresholds of the sensitivity table, comma-separated")
    parser.add_argument("--prefix", default="ptgm-babyai-gotolocal",
                        help="experiment names: PREFIX, PREFIX-lambda0, PREFIX-acer, PREFIX-flat-ppo, PREFIX-vae")
    parser.add_argument("--level", default="BabyAI GoToLocal", help="downstream task name for the plot title")
    args = parser.parse_args(argv)

    curves = {}
    for name, _ in VARIANTS:  # NAME, plus NAME-seedN where seeds ran as separate experiments
        name_here = args.prefix + name
        for experiment in [args.results / name_here, *sorted(args.results.glob(f"{name_here}-seed[0-9]*"))]:
            if experiment.is_dir():
                curves.setdefault(name, {}).update(load_variant(experiment))
    curves = {name: seeds for name, seeds in curves.items() if seeds}
    lines = [(f"Stable success: per-iteration mean return ≥ {args.threshold} for {args.consecutive} consecutive "
              "iterations; steps = low-level env steps at the end of the first of them (so one iteration "
              "is the resolution: a variant already there after its first iteration shows that iteration's "
              "steps). Returns and success: mean over seeds."), "",
             ("| variant | seeds | iteration (low-level steps) | 1st-iteration return | return, last 3 iterations "
              "| success, last 3 iterations | AUC per seed | AUC mean ± std "
              "| low-level steps to stable success, per seed | mean ± std | flat PPO / variant |"),
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    end = min(curve["steps"][-1] for seeds in curves.values() for curve in seeds.values())
    aucs = {name: {seed: auc(curve["steps"], curve["return"], end) for seed, curve in seeds.items()}
            for name, seeds in curves.items()}
    means, rows_csv = {}, []
    for name, label in VARIANTS:
        seeds = curves.get(name) or {}
        if not seeds:
            continue
        budgets = [curve["steps"][-1] for curve in seeds.values()]
        values = [steps_to_stable(curve, args.threshold, args.consecutive) for curve in seeds.values()]
        text, mean, censored = summarise(values, budgets)
        means[name] = (mean, censored)
        per_seed = ", ".join(f"s{seed}: {_k(v, b)}" for seed, v, b in zip(seeds, values, budgets))
        first = np.mean([c["return"][0] for c in seeds.values()])
        last = np.mean([c["return"][-3:].mean() for c in seeds.values()])
        success = np.nanmean([c["success"][-3:].mean() for c in seeds.values()]) if not all(
            np.isnan(c["success"][-1]) for c in seeds.values()) else None
        per_iter = np.mean([np.diff(c["steps"]).mean() if len(c["steps"]) > 1 else c["steps"][0]
                            for c in seeds.values()])
        areas = list(aucs[name].values())
        area_text = f"{np.mean(areas):.3f} ± {np.std(areas, ddof=1) if len(areas) > 1 else 0.0:.3f}"
        lines.append(f"| {label} | {len(seeds)} | {per_iter / 1000:.1f}k | {first:.2f} | {last:.2f} | "
                     f"{'–' if success is None else f'{success:.2f}'} | "
                     f"{', '.join(f's{seed}: {a:.3f}' for seed, a in aucs[name].items())} | {area_text} | "
                     f"{per_seed} | {text} | @{name}@ |")
        for seed, v, b in zip(seeds, values, budgets):
            rows_csv.append({"variant": args.prefix + name, "seed": seed, "threshold": args.threshold,
                             "low_level_steps_to_stable_success": "" if v is None else int(v),
                             "budget_low_level_steps": int(b), "auc": round(aucs[name][seed], 4)})
    lines += ["", f"AUC: mean return over the first {end / 1000:.1f}k low-level steps (the shortest run)."]
    paired = sorted(set(aucs.get("", {})) & set(aucs.get("-lambda0", {})))
    if paired:
        diffs = [aucs[""][seed] - aucs["-lambda0"][seed] for seed in paired]
        spread = f" ± {np.std(diffs, ddof=1):.3f} (std)" if len(diffs) > 1 else ""
        lines.append("AUC difference λ = 0.05 − λ = 0, paired by seed: "
                     + ", ".join(f"s{seed}: {d:+.3f}" for seed, d in zip(paired, diffs))
                     + f"; mean {np.mean(diffs):+.3f}{spread}.")
    flat = means.get(FLAT, (None, False))
    for name, _ in VARIANTS:
        text = "–" if name == FLAT else ratio(flat, means.get(name, (None, False)))
        lines = [line.replace(f"@{name}@", text) for line in lines]

    lines += ["", ("Sensitivity to the threshold (mean low-level steps to stable success; ≥: a seed never got "
                   "there, counted at its budget):"), "",
              "| threshold | " + " | ".join(label for name, label in VARIANTS if name in curves) + " | flat PPO / PTGM |",
              "|---|" + "---|" * (len(curves) + 1)]
    for threshold in args.sensitivity:
        cells, found = [], {}
        for name, _ in VARIANTS:
            if name not in curves:
                continue
            seeds = curves[name]
            values = [steps_to_stable(c, threshold, args.consecutive) for c in seeds.values()]
            text, mean, censored = summarise(values, [c["steps"][-1] for c in seeds.values()])
            found[name] = (mean, censored)
            cells.append(text)
        text = ratio(found.get(FLAT, (None, False)), found.get("", (None, False)))
        lines.append(f"| {threshold} | " + " | ".join(cells) + f" | {text} |")

    lines += ["", "Wall time of the high-level / flat runs (Tune `time_total_s` per seed):", "",
              "| variant | RLlib env steps | low-level env steps | s per seed | low-level steps/s |", "|---|---|---|---|---|"]
    for name, label in VARIANTS:
        seeds = curves.get(name) or {}
        if seeds:
            times = [c["time"][-1] for c in seeds.values()]
            high = np.mean([c["high"][-1] for c in seeds.values()])
            low = np.mean([c["steps"][-1] for c in seeds.values()])
            lines.append(f"| {label} | {high / 1000:.0f}k | {low / 1000:.1f}k | "
                         f"{', '.join(f'{t:.0f}' for t in times)} | {low / np.mean(times):.0f} |")
    if args.artifacts:
        lines += ["", f"Offline stages ({dataset_size(args.artifacts)}):", "",
                  "| stage | wall s (incl. start-up) | stage's own seconds |", "|---|---|---|"]
        lines += [f"| {stage} | {wall} | {inner} |" for stage, wall, inner in wall_times(args.artifacts)]

    args.out.mkdir(parents=True, exist_ok=True)
    plot(curves, args.threshold, args.level, args.out / "returns.png")
    (args.out / "summary.md").write_text("\n".join(lines) + "\n")
    with (args.out / "steps_to_success.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, ["variant", "seed", "threshold", "low_level_steps_to_stable_success",
                                       "budget_low_level_steps", "auc"])
        writer.writeheader()
        writer.writerows(rows_csv)
    print("\n".join(lines))
    print(f"\nwrote {args.out}/returns.png, summary.md, steps_to_success.csv")


if __name__ == "__main__":
    main()
