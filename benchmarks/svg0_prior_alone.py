"""What a trained SVG0Prior prior knows about the navigation task: act with the prior alone (it sees
`prior_keys`: the one-hot of the next target only in the asymmetry ablation's "everything" prior) and with the policy, on the trial's own env
settings. Reports targets reached per episode and the choice accuracy: of the targets it walks
into after leaving one (passing through counts), the share that is the task's next target. Given only the last target
the next one is uniform (1/3 with 4 targets); a prior that remembers the last two can do better.

An LSTM prior sees the last `--window` observations from a zero state at every step, as it was
trained (replayed segments of `rollout_fragment_length` steps, each from a zero state).

    python benchmarks/svg0_prior_alone.py TRIAL_DIR [...] [--episodes 10] [--window 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from ray.rllib.core.rl_module.rl_module import RLModule

from behaviorlab.algorithms.svg0_prior.learner import module_checkpoint_dir
from behaviorlab.algorithms.svg0_prior.module import LSTMGaussianPrior, gather
from behaviorlab.envs.navigation import PointMassNavigation

Actor = Callable[[dict], tuple[np.ndarray, np.ndarray]]  # observation → Gaussian mean, std


def network_actor(net: torch.nn.Module, to_input: Callable[[dict], torch.Tensor], window: int) -> Callable[[], Actor]:
    """A fresh actor per episode: `net` on the current input, or an LSTM on the last `window`."""

    def start() -> Actor:
        history: list[torch.Tensor] = []

        def act(obs: dict) -> tuple[np.ndarray, np.ndarray]:
            x = to_input(obs)
            with torch.no_grad():
                if isinstance(net, LSTMGaussianPrior):
                    history.append(x)
                    del history[:-window]
                    mean, std = (out[:, -1] for out in net(torch.stack(history, 1)))
                else:
                    mean, std = net(x)
            return mean[0].numpy(), std[0].numpy()

        return act

    return start


def play(env: PointMassNavigation, start: Callable[[], Actor], episodes: int, seed: int) -> tuple[list, list]:
    """Sampled actions: targets reached per episode, and for every target walked into after another
    one whether it was the next target."""
    rng = np.random.default_rng(seed)
    reached, choices = [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        act, came_from, done, total = start(), None, False, 0.0
        while not done:
            mean, std = act(obs)
            expected = env.next_target
            obs, reward, terminated, truncated, _ = env.step(np.clip(mean + std * rng.normal(size=mean.shape), -1, 1))
            total += reward
            done = terminated or truncated
            inside = np.flatnonzero(np.linalg.norm(env.targets - env._position(), axis=-1) < env.target_radius)
            for target in inside:
                if target != came_from:
                    if came_from is not None:
                        choices.append(target == expected)
                    came_from = target
        reached.append(total)
    return reached, choices


def accuracy(choices: list[bool]) -> str:
    return f"{sum(choices) / len(choices):.2f} ({len(choices)})" if choices else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trials", nargs="+", type=Path)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--window", type=int, default=10)
    parser.add_argument("--seed", type=int, default=100)
    args = parser.parse_args()
    print("| trial | prior | KL weight | prior alone: targets per episode | prior's choice accuracy (choices) "
          "| policy: targets per episode | policy's choice accuracy |")
    print("|---|---|---|---|---|---|---|")
    for trial in args.trials:
        params = json.loads((trial / "params.json").read_text())
        module = RLModule.from_checkpoint(str(module_checkpoint_dir(trial))).unwrapped()
        env = PointMassNavigation(**params["env_config"])
        def inputs(keys: list[str]) -> Callable[[dict], torch.Tensor]:
            return lambda obs: gather({k: torch.as_tensor(v)[None] for k, v in obs.items()}, keys,
                                      module.observation_space)

        prior, choices = play(env, network_actor(module.prior, inputs(module.prior_keys), args.window),
                              args.episodes, args.seed)
        policy, policy_choices = play(env, network_actor(module.policy, inputs(module.policy_keys), args.window),
                                      args.episodes, args.seed)
        print(f"| {trial.parent.name}/{trial.name} | {params.get('prior_type', 'mlp')} | {params.get('kl_weight')} | "
              f"{statistics.mean(prior):.1f} ± {statistics.pstdev(prior):.1f} | {accuracy(choices)} | "
              f"{statistics.mean(policy):.1f} | {accuracy(policy_choices)} |", flush=True)


if __name__ == "__main__":
    main()
