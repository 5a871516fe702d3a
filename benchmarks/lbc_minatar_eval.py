"""Evaluate the members' own policies in the final checkpoints of the LBC MinAtar benchmark runs.

The training return of LBC / uniform ψ counts their exploratory arms; this plays each member's
π_i alone (sampled, and greedy argmax) from the learner's final RLModule, the same way for every
variant, so the learned policies can be compared without that cost.

    python benchmarks/lbc_minatar_eval.py --results-dir /tmp/bench --episodes 50
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

PREFIX = "lbc-minatar-breakout-"


def play(module, env, member: int, greedy: bool, episodes: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed * 10_000 + episode)
        done, total = False, 0.0
        while not done:
            with torch.no_grad():
                logits = module.member_logits(torch.as_tensor(obs[None]))[member, 0].numpy()
            if greedy:
                action = int(logits.argmax())
            else:
                p = np.exp(logits - logits.max()); p /= p.sum()
                action = int(rng.choice(len(p), p=p))
            obs, reward, term, trunc, _ = env.step(action)
            total += reward
            done = term or trunc
        returns.append(total)
    return float(np.mean(returns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results-dir", type=Path, default=Path("/tmp/bench"))
    parser.add_argument("--episodes", type=int, default=50)
    args = parser.parse_args()
    from ray.rllib.core.rl_module.rl_module import RLModule

    import behaviorlab.envs  # noqa: F401  (MinAtar registration)
    from behaviorlab.envs.minatar import make_minatar

    env = make_minatar("MinAtar/Breakout-v1")
    print("| experiment | trial | " + " | ".join(f"π{i} sampled | π{i} greedy" for i in range(3)) + " |")
    print("|---" * 8 + "|")
    for ckpt in sorted(args.results_dir.glob(f"{PREFIX}*/trial_*/checkpoint_*/learner_group/learner/rl_module/default_policy")):
        trial = ckpt.parents[4]
        if "appo" in trial.parent.name:
            continue
        module = RLModule.from_checkpoint(ckpt)
        module.eval()
        cells = [f"{play(module, env, i, greedy, args.episodes, seed=1):.2f}" for i in range(3) for greedy in (False, True)]
        print(f"| {trial.parent.name.removeprefix(PREFIX)} | {trial.name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
