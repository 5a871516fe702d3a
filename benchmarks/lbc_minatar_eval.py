"""Evaluate the policies in the final checkpoints of the LBC MinAtar benchmark runs.

The training return of LBC / uniform ψ counts their exploratory arms; this plays, from the learner's
final RLModule and the same way for every variant, so the learned policies can be compared without
that cost:
- each member's π_i alone (sampled, and greedy argmax);
- the module's fixed inference ψ (`inference_tau`, `inference_omega`: by default τ = 1 and uniform ω,
  the mixture μ_ψ of all members), which is what `forward_inference` and evaluation env runners act
  with; sampled from μ_ψ, and greedy (RLlib's `explore=False`).

    python benchmarks/lbc_minatar_eval.py --results-dir /tmp/bench --episodes 50
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from ray.rllib.core.columns import Columns


def member_policy(module, member: int):
    return lambda obs: module.member_logits(obs)[member, 0]


def inference_policy(module):
    return lambda obs: module.forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS][0]


def play(policy, env, greedy: bool, episodes: int, seed: int) -> float:
    """Mean return of `policy` (observation batch [1, ...] → action logits [A]) over `episodes`."""
    rng = np.random.default_rng(seed)
    returns = []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed * 10_000 + episode)
        done, total = False, 0.0
        while not done:
            with torch.no_grad():
                logits = policy(torch.as_tensor(obs[None])).numpy()
            if greedy:
                action = int(logits.argmax())
            else:
                p = np.exp(logits - logits.max()); p /= p.sum()
                action = int(rng.choice(len(p), p=p))
            obs, reward, term, trunc, _ = env.step(action)
            total += reward
            done = term or trunc
        if trunc:
            print(f"episode {episode} hit the step limit, return {total}", file=sys.stderr)
        returns.append(total)
    return float(np.mean(returns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results-dir", type=Path, default=Path("/tmp/bench"))
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--prefix", default="lbc-minatar-breakout-", help="experiments whose names start with this")
    parser.add_argument("--env", default="MinAtar/Breakout-v1")
    parser.add_argument("--max-episode-steps", type=int, default=10_000,
                        help="MinAtar has no time limit; a policy that keeps the ball in play forever would never end")
    args = parser.parse_args()
    from ray.rllib.core.rl_module.rl_module import RLModule

    import behaviorlab.envs  # noqa: F401  (MinAtar registration)
    from behaviorlab.algorithms.lbc.module import LBCTorchRLModule
    from behaviorlab.envs.minatar import make_minatar

    env = make_minatar(args.env, max_episode_steps=args.max_episode_steps)
    print("| experiment | trial | " + " | ".join(f"π{i} sampled | π{i} greedy" for i in range(3))
          + " | μ_ψ inference sampled | μ_ψ inference greedy |")
    print("|---" * 10 + "|")
    for ckpt in sorted(args.results_dir.glob(f"{args.prefix}*/trial_*/checkpoint_*/learner_group/learner/rl_module/default_policy")):
        trial = ckpt.parents[4]
        module = RLModule.from_checkpoint(ckpt)
        if not isinstance(module, LBCTorchRLModule):  # the RLlib APPO / IMPALA baselines
            continue
        module.eval()
        policies = [member_policy(module, i) for i in range(module.num_members)] + [inference_policy(module)]
        cells = [f"{play(policy, env, greedy, args.episodes, seed=1):.2f}" for policy in policies for greedy in (False, True)]
        print(f"| {trial.parent.name.removeprefix(args.prefix)} | {trial.name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
