"""Evaluate the policies in the final checkpoints of the LBC MinAtar benchmark runs.

The training return of LBC / uniform ψ counts their exploratory arms; this plays, from the learner's
final RLModule and the same way for every variant, so the learned policies can be compared without
that cost:
- each member's π_i alone (sampled, and greedy argmax);
- the module's fixed inference ψ (`inference_tau`, `inference_omega`: by default τ = 1 and uniform ω,
  the mixture μ_ψ of all members), which is what `forward_inference` and evaluation env runners with
  `psi_in_evaluation: fixed` act with; sampled from μ_ψ, and greedy (RLlib's `explore=False`);
- the meta-controller's best arm in the checkpoint (`MetaController.best_arm`, what evaluation runners
  with `psi_in_evaluation: best_arm` act with): each episode's ψ drawn inside that arm, then sampled from
  μ_ψ and greedy.

With `--critics` it prints instead, per member, the mean of π_i(a|s) and of the member's own advantage
A_i(s, a) = Q_i(s, a) − Σ_b π_i(b|s) Q_i(s, b) for every action, over the states that the uniform
mixture of the members visits, and the share of those states whose critic-best action the member gives
< 1 %. A member that gives an action no probability while its critic rates that action best is stuck:
its off-policy gradient for the action carries ρ = π_i/μ ≈ 0.

    python benchmarks/lbc_minatar_eval.py --results-dir /tmp/bench --episodes 50 [--trust-checkpoints]
"""

from __future__ import annotations

import argparse
import pickle
import sys
from pathlib import Path

import numpy as np
import torch
from ray.rllib.core.columns import Columns

from behaviorlab.algorithms.acer.losses import best_action_neglected
from behaviorlab.algorithms.lbc.mapping import centred_advantages
from behaviorlab.algorithms.lbc.meta_controller import MetaController, MetaControllerConfig
from behaviorlab.algorithms.lbc.psi import ARM, OMEGA, TAU


# Each maker below gives one episode's policy (observation batch [1, ...] → action logits [A]) from `play`'s rng.
def member_policy(module, member: int):
    def policy(obs):
        return module.member_logits(obs)[member, 0]
    return lambda rng: policy


def inference_policy(module):
    def policy(obs):
        return module.forward_inference({Columns.OBS: obs})[Columns.ACTION_DIST_INPUTS][0]
    return lambda rng: policy


def best_arm_policy(module, checkpoint: Path):
    """(the label of the checkpoint's best arm, a maker of one episode's policy with a ψ drawn inside it).
    The bandit's state exists only in RLlib's pickled algorithm_state.pkl: the caller must have opted in."""
    state = pickle.loads((checkpoint / "algorithm_state.pkl").read_bytes())["meta_controller"]
    controller = MetaController(state["num_members"], MetaControllerConfig(**state["config"]))
    controller.set_state(state)
    arm = controller.best_arm()
    region = controller.arms[arm]

    def make(rng):
        psi = region.sample(rng)
        batch = {TAU: torch.tensor(psi["tau"][None], dtype=torch.float32),
                 OMEGA: torch.tensor(psi["omega"][None], dtype=torch.float32), ARM: torch.tensor([arm])}
        return lambda obs: module.forward_inference({Columns.OBS: obs, **batch})[Columns.ACTION_DIST_INPUTS][0]
    return region.label, make


def play(make_policy, env, greedy: bool, episodes: int, seed: int) -> float:
    """Mean return over `episodes` of the policies `make_policy(rng)` gives for each (observation batch
    [1, ...] → action logits [A])."""
    rng = np.random.default_rng(seed)
    returns = []
    for episode in range(episodes):
        policy = make_policy(rng)
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


def critic_view(module, env, steps: int, seed: int) -> list[str]:
    """Per member, over `steps` states visited by the members' mixture: mean π_i(·|s), mean A_i(s, ·), and
    the share of states whose critic-best action has π_i < 1 % (the learners' `best_action_neglected`)."""
    rng = np.random.default_rng(seed)
    visited = []
    obs, _ = env.reset(seed=seed)
    while len(visited) < steps:
        visited.append(obs)
        with torch.no_grad():
            probs = module.member_logits(torch.as_tensor(obs[None]))[:, 0].softmax(-1).mean(0).numpy()
        obs, _, term, trunc, _ = env.step(int(rng.choice(len(probs), p=probs / probs.sum())))
        if term or trunc:
            obs, _ = env.reset(seed=int(rng.integers(2**31)))
    with torch.no_grad():
        states = torch.as_tensor(np.stack(visited))
        all_probs, all_q_values = module.member_logits(states).softmax(-1), module.member_q_values(states)
    rows = []
    for member in range(module.num_members):
        probs, q_values = all_probs[member], all_q_values[member]
        advantages = centred_advantages(q_values, probs)
        mean_probs = " ".join(f"{value:.3f}" for value in probs.mean(0).tolist())
        mean_advantages = " ".join(f"{value:+.3f}" for value in advantages.mean(0).tolist())
        neglected = best_action_neglected(probs.clamp_min(1e-30).log(), q_values).item()
        rows.append(f"{mean_probs} / {mean_advantages} / {neglected:.2f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results-dir", type=Path, default=Path("/tmp/bench"))
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--prefix", default="lbc-minatar-breakout-", help="experiments whose names start with this")
    parser.add_argument("--env", default="MinAtar/Breakout-v1")
    parser.add_argument("--max-episode-steps", type=int, default=10_000,
                        help="MinAtar has no time limit; a policy that keeps the ball in play forever would never end")
    parser.add_argument("--trust-checkpoints", action="store_true",
                        help="unpickle each checkpoint's algorithm_state.pkl for the bandit's best arm (pickles can run "
                             "code: only for checkpoints you made); without it that column is left out")
    parser.add_argument("--critics", type=int, metavar="STEPS", default=0,
                        help="print each member's mean policy and own-critic advantages over STEPS visited states instead")
    args = parser.parse_args()
    from ray.rllib.core.rl_module.rl_module import RLModule

    import behaviorlab.envs  # noqa: F401  (MinAtar registration)
    from behaviorlab.algorithms.lbc.module import LBCTorchRLModule
    from behaviorlab.envs.minatar import make_minatar

    env = make_minatar(args.env, max_episode_steps=args.max_episode_steps)
    if args.critics:
        print("| experiment | trial | " + " | ".join(f"member {i}: mean π(a) / mean A(a), a = 0… / best action neglected" for i in range(3)) + " |")
        print("|---" * 5 + "|")
    else:
        print("| experiment | trial | " + " | ".join(f"π{i} sampled | π{i} greedy" for i in range(3))
              + " | μ_ψ inference sampled | μ_ψ inference greedy"
              + (" | bandit's best arm | best arm sampled | best arm greedy |" if args.trust_checkpoints else " |"))
        print("|---" * (13 if args.trust_checkpoints else 10) + "|")
    for ckpt in sorted(args.results_dir.glob(f"{args.prefix}*/trial_*/checkpoint_*/learner_group/learner/rl_module/default_policy")):
        trial = ckpt.parents[4]
        module = RLModule.from_checkpoint(ckpt)
        if not isinstance(module, LBCTorchRLModule):  # the RLlib APPO / IMPALA baselines
            continue
        module.eval()
        if args.critics:
            cells = critic_view(module, env, args.critics, seed=1)
            print(f"| {trial.parent.name.removeprefix(args.prefix)} | {trial.name} | " + " | ".join(cells) + " |", flush=True)
            continue
        policies = [member_policy(module, i) for i in range(module.num_members)] + [inference_policy(module)]
        cells = [f"{play(policy, env, greedy, args.episodes, seed=1):.2f}" for policy in policies for greedy in (False, True)]
        if args.trust_checkpoints:
            label, best_arm = best_arm_policy(module, ckpt.parents[3])
            cells += [label] + [f"{play(best_arm, env, greedy, args.episodes, seed=1):.2f}" for greedy in (False, True)]
        print(f"| {trial.parent.name.removeprefix(args.prefix)} | {trial.name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
