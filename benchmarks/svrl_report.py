"""Table and curves of the SV-RL benchmark (benchmarks/svrl.sh): DQN vs SVRLDQN per task.

Per task and algorithm, over seeds (mean ± std): the final return (the last iteration's episodes),
the area under the return curve (mean return over the iterations, i.e. AUC / env steps), and for
SVRLDQN the learner's SV-RL diagnostics averaged over the run's iterations: approximate rank (99 %
energy) of the 32 × |A| next-state target matrix, relative change of that matrix by completion
‖Q† − M‖ / ‖M‖, relative error of the imputed entries, share of rows whose greedy action changed.
The `behaviorlab rank` results (rank_<experiment>/rank.json, written by the script's rank step) are
added when present, and a reference line for the random MDP's exact Q* (value iteration): its ranks,
the same completion check, and the 50-step returns of its greedy policy (ε = 0 and 0.05) and of
uniform random actions.

Usage: python benchmarks/svrl_report.py RESULTS_DIR [--out docs/benchmarks/svrl]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from behaviorlab.algorithms.common.matrix_estimation import approximate_rank
from behaviorlab.algorithms.svrl.rank import completion_check
from behaviorlab.envs.random_mdp import RandomMDP
from behaviorlab.platform.report import caption_band, load_experiment, plot_mean_curves

RETURN = "env_runners/episode_return_mean"
TASKS = {"discrete-pendulum": "DiscretePendulum-v1 (21 torques)", "random-mdp": "RandomMDP-v0 (50 states, 18 actions)",
         "minatar-breakout": "MinAtar/Breakout-v1 (6 actions)"}
DIAGNOSTICS = ("svrl_approx_rank", "svrl_relative_change", "svrl_imputation_error", "svrl_greedy_changed")


def _pm(values) -> str:
    values = [v for v in values if v is not None]
    return f"{np.mean(values):.3g} ± {np.std(values):.2g}" if values else "–"


def random_mdp_reference() -> str:
    """Q* of the benchmark's RandomMDP-v0 (the spec's defaults, γ 0.9) measured as `behaviorlab rank` does."""
    env = RandomMDP()
    q = env.optimal_q()
    states = torch.randint(len(q), (512,), generator=torch.Generator().manual_seed(0))
    error, changed = completion_check(torch.tensor(q)[states])
    ranks = [approximate_rank(torch.linalg.svdvals(torch.tensor(m))) for m in (q, q - q.mean(1, keepdims=True))]

    def expected_return(policy: np.ndarray) -> float:  # 50 steps from the uniform start distribution
        state, total = np.full(len(q), 1 / len(q)), 0.0
        for _ in range(env.episode_length):
            total += float((state[:, None] * policy * env.rewards).sum())
            state = np.einsum("s,sa,sat->t", state, policy, env.transitions)
        return total

    greedy, uniform = np.eye(q.shape[1])[q.argmax(1)], np.full(q.shape, 1 / q.shape[1])
    return (f"RandomMDP-v0 exact Q* (value iteration, γ 0.9; 512 states drawn uniformly): rank (99 %) of Q* {ranks[0]}, "
            f"of Q* − mean_a Q* {ranks[1]}; 10 % hidden in 32-row batches: imputed-entry error {error:.3f}, greedy "
            f"action changed {changed:.3f}. 50-step return of greedy Q*: {expected_return(greedy):.1f} "
            f"(ε = 0.05: {expected_return(0.95 * greedy + 0.05 * uniform):.1f}); uniform random actions: "
            f"{expected_return(uniform):.1f}.")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/svrl"))
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    args.out.mkdir(parents=True, exist_ok=True)
    lines = ["| task | algorithm | seeds | env steps | final return | AUC (mean return) | "
             "rank (99 %) of target Q [32×\\|A\\|] | ‖Q†−M‖/‖M‖ | imputed-entry error | greedy changed | "
             "`behaviorlab rank` (512 visited states): rank of Q / of Q − mean_a Q | "
             "`behaviorlab rank`: imputed-entry error / greedy changed |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    paired = ["", "| task | seed | DQN final | SV-RL final | DQN AUC | SV-RL AUC |", "|---|---|---|---|---|---|"]
    figure, axes = plt.subplots(1, len(TASKS), figsize=(5 * len(TASKS), 3.5))
    banded = False
    for ax, (task, title) in zip(axes, TASKS.items()):
        per_seed: dict = {}  # seed → DQN's (final, AUC), for the paired rows
        for algo in ("dqn", "svrl"):
            path = args.results / f"{algo}-{task}"
            if not any(path.glob("*/result.json")):  # not run (yet)
                continue
            trials = load_experiment(path).trials
            finals = [t.final(RETURN) for t in trials]
            aucs = [float(np.mean(t.series(RETURN)[1])) if t.series(RETURN)[1] else None for t in trials]
            steps = max(t.series(RETURN)[0][-1] for t in trials if t.series(RETURN)[0])
            diagnostics = [_pm([float(np.mean(t.series(f"learners/default_policy/{key}")[1]))
                                for t in trials if t.series(f"learners/default_policy/{key}")[1]])
                           for key in DIAGNOSTICS] if algo == "svrl" else ["–"] * len(DIAGNOSTICS)
            rank_file = args.out / f"rank_{algo}-{task}" / "rank.json"
            rank = completion = "–"
            if rank_file.is_file():
                spectra = json.loads(rank_file.read_text())
                rank = f"{_pm([s['rank_q'] for s in spectra])} / {_pm([s['rank_advantage'] for s in spectra])}"
                completion = (f"{_pm([s['completion_error'] for s in spectra])} / "
                              f"{_pm([s['completion_greedy_changed'] for s in spectra])}")
            lines.append(f"| {title} | {'SVRLDQN' if algo == 'svrl' else 'DQN'} | {len(trials)} | {steps:,.0f} | "
                         f"{_pm(finals)} | {_pm(aucs)} | " + " | ".join(diagnostics) + f" | {rank} | {completion} |")
            per_seed.update({t.params.get("seed"): (t.final(RETURN), np.mean(t.series(RETURN)[1])) for t in trials}
                            if algo == "dqn" else {})
            if algo == "svrl":
                for t in sorted(trials, key=lambda t: t.params.get("seed")):
                    base = per_seed.get(t.params.get("seed"), (None, None))
                    values = (base[0], t.final(RETURN), base[1], np.mean(t.series(RETURN)[1]))
                    paired.append(f"| {title} | {t.params.get('seed')} | "
                                  + " | ".join("–" if v is None else f"{v:.3g}" for v in values) + " |")
            banded = plot_mean_curves(ax, [("SV-RL (p = 0.9)" if algo == "svrl" else "DQN", trials)], RETURN) or banded
        ax.set(title=title, xlabel="env steps", ylabel="episode return")
        ax.legend()
    if banded:
        caption_band(figure)
    figure.tight_layout(rect=(0, 0.03, 1, 1))
    figure.savefig(args.out / "returns.png", dpi=120)
    lines += paired + ["", random_mdp_reference()]
    (args.out / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
