"""Evaluate every final policy of the imitation benchmark (benchmarks/gail_seals_cartpole.sh).

For each experiment under RESULTS and each trial: its newest checkpoint, 50 episodes with greedy and
50 with sampled actions in the env it was trained in (`behaviorlab.platform.policy`), normalised
as (return − random) / (expert − random), random = uniform random actions over the same 50 reset
seeds, expert = the mean return of the expert dataset (500 on CartPole), and the env steps at which
each trial's training return first reached 95 % of the way from random to expert. Writes per-trial and
summary tables (markdown + CSV) and, per GAIL experiment, plots of D's accuracy on each side and of the
true return (mean over seeds with a bootstrap band, per number of trajectories).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from behaviorlab.envs import make_env  # noqa: E402
from behaviorlab.envs.datasets import dataset_info  # noqa: E402
from behaviorlab.platform.policy import evaluate, load_policy, rollout  # noqa: E402
from behaviorlab.platform.report import caption_band, load_experiment, plot_mean_curves  # noqa: E402

EPISODES = 50
STEPS = "num_env_steps_sampled_lifetime"


def random_return(env_id: str) -> float:
    env = make_env(env_id)
    env.action_space.seed(0)
    return float(np.mean([rollout(env, lambda _: env.action_space.sample(), seed=i).episode_return
                          for i in range(EPISODES)]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows, randoms, curves = [], {}, {}
    for exp_dir in sorted(p for p in Path(args.results).iterdir() if (p / "behaviorlab" / "spec.yaml").is_file()):
        spec = yaml.safe_load((exp_dir / "behaviorlab" / "spec.yaml").read_text())
        env_id = spec["env"]
        if env_id not in randoms:
            randoms[env_id] = random_return(env_id)
        expert = dataset_info(spec["config"]["expert_data"]).attributes["mean_return"]
        near_expert = randoms[env_id] + 0.95 * (expert - randoms[env_id])
        experiment = load_experiment(exp_dir)
        for trial in experiment.trials:
            params = json.loads((exp_dir / trial.name / "params.json").read_text())
            policy = load_policy(exp_dir / trial.name)
            reached = trial.first_reaching("env_runners/episode_return_mean", near_expert)  # training return
            result = {"experiment": exp_dir.name, "algorithm": spec["algorithm"], "env": env_id,
                      "trajectories": params["num_expert_trajectories"], "seed": params["seed"],
                      "env_steps": int(trial.last(STEPS)), "checkpoint": policy.checkpoint.name,
                      "steps_to_95pct_expert": None if reached is None else int(reached[STEPS])}
            for mode in ("greedy", "sampled"):
                returns = evaluate(policy, env_id, EPISODES, greedy=mode == "greedy", seed=0)
                result[f"{mode}_return"] = round(float(returns.mean()), 1)
                result[f"{mode}_normalised"] = round((returns.mean() - randoms[env_id]) / (expert - randoms[env_id]), 3)
            rows.append(result)
            print(json.dumps(result), flush=True)
            if spec["algorithm"] == "GAIL":
                curves.setdefault(exp_dir.name, []).append((result["trajectories"], trial))
    with (out / "trials.csv").open("w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    lines = [f"Random play ({EPISODES} episodes, uniform actions): " + ", ".join(f"{k} {v:.1f}" for k, v in randoms.items()),
             "", "| experiment | env | expert trajectories | seeds | env steps | env steps to 95 % of the expert "
             "(training return; per seed) | greedy return | greedy normalised | sampled return | sampled normalised |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["experiment"], row["env"], row["trajectories"]), []).append(row)
    for (experiment, env_id, trajectories), group in groups.items():
        def stat(key):
            values = np.array([r[key] for r in group], float)
            return f"{values.mean():.3g} ± {values.std():.2g}"
        reached = ", ".join("never" if r["steps_to_95pct_expert"] is None else f"{r['steps_to_95pct_expert']:,}"
                            for r in sorted(group, key=lambda r: r["seed"]))
        lines.append(f"| {experiment} | {env_id} | {trajectories} | {len(group)} | {group[0]['env_steps']:,} | {reached} | "
                     f"{stat('greedy_return')} | {stat('greedy_normalised')} | {stat('sampled_return')} | "
                     f"{stat('sampled_normalised')} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    for name, trials in curves.items():
        groups = sorted({trajectories for trajectories, _ in trials})
        by_size = [(f"{size} traj", [trial for t, trial in trials if t == size]) for size in groups]
        fig, axes = plt.subplots(1, 2, figsize=(11, 4))
        for side, style in (("policy", "-"), ("expert", "--")):
            plot_mean_curves(axes[0], [(f"{label}, {side} side", group) for label, group in by_size],
                             f"learners/discriminator/accuracy_{side}", linestyle=style)
        plot_mean_curves(axes[1], by_size, "env_runners/episode_return_mean")
        axes[0].set(title=f"{name}: D accuracy", xlabel="env steps", ylim=(-0.05, 1.05))
        axes[1].set(title=f"{name}: true env return", xlabel="env steps")
        for ax in axes:
            ax.legend(fontsize=7)
            ax.grid(alpha=0.3)
        caption_band(fig)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        fig.savefig(out / f"{name}.png", dpi=90)
        plt.close(fig)


if __name__ == "__main__":
    main()
