"""Can the prior architectures capture the 2nd-order target order at all? Distil a scripted expert
(head for the next target, Gaussian noise) into an MLP and an LSTM prior that see only the prior's
keys (proprioception and target positions, not which target is next), by the same KL(expert ‖ prior)
on replayed segments that SVG0Prior uses, then act with each prior alone and measure its choice
accuracy (benchmarks/svg0_prior_alone.py explains it). This separates the architecture's capacity
from the reinforcement-learning run that trains a prior towards a changing policy.

With `--save DIR` each distilled prior is also written as an SVG0Prior RLModule
(`DIR/{mlp,lstm}_seed=N`) that a spec's `prior_checkpoint` can load, frozen, for a new task run.

    python benchmarks/svg0_prior_capacity.py [--tables 0] [--segment 20] [--seeds 0 1 2] [--save DIR]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from svg0_prior_alone import Actor, network_actor, play
from torch.distributions import Normal

from behaviorlab.algorithms.svg0_prior.losses import gaussian_kl
from behaviorlab.algorithms.svg0_prior.module import (
    LSTMGaussianPrior,
    SVG0PriorTorchRLModule,
    build_prior,
)
from behaviorlab.envs.navigation import PointMassNavigation

TASK = dict(num_targets=4, predictability=0.9, max_episode_steps=400, arena_size=1.5, target_radius=0.5,
            gear=8.0, layout_seed=0)
EXPERT_STD = 0.2


def expert_mean(obs: dict) -> np.ndarray:
    """PD control towards the next target: the relative position of the one-hot's target, minus a
    velocity term."""
    target = int(np.argmax(obs["next_target"]))
    offset = obs["targets"].reshape(-1, 2)[target]
    return np.clip(3.0 * offset - 0.3 * obs["proprio"][2:4], -1.0, 1.0)


PRIOR_KEYS = ["proprio", "targets"]


def prior_input(obs: dict) -> np.ndarray:
    return np.concatenate([obs[key] for key in PRIOR_KEYS]).astype(np.float32)


def collect(env: PointMassNavigation, episodes: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[episodes, T, F] prior inputs, [episodes, T, 2] expert means and [episodes, T] rewards."""
    rng = np.random.default_rng(seed)
    inputs, means, rewards = [], [], []
    for episode in range(episodes):
        obs, _ = env.reset(seed=seed + episode)
        xs, mus, rs, done = [], [], [], False
        while not done:
            mean = expert_mean(obs)
            xs.append(prior_input(obs))
            mus.append(mean)
            obs, reward, terminated, truncated, _ = env.step(np.clip(mean + EXPERT_STD * rng.normal(size=2), -1, 1))
            rs.append(reward)
            done = terminated or truncated
        inputs.append(xs)
        means.append(mus)
        rewards.append(rs)
    return np.asarray(inputs, np.float32), np.asarray(means, np.float32), np.asarray(rewards, np.float32)


def held_out_kl(prior: torch.nn.Module, inputs: np.ndarray, means: np.ndarray, rewards: np.ndarray,
                segment: int) -> tuple[float, float]:
    """KL(expert ‖ prior) on other expert episodes: over every step, and over the 3 steps after each
    target is reached, where only the order of the targets says where to go next. The LSTM sees the
    `segment` steps up to each step from a zero state."""
    x, mu = torch.as_tensor(inputs), torch.as_tensor(means)
    steps = torch.arange(segment - 1, x.shape[1])
    with torch.no_grad():
        if isinstance(prior, LSTMGaussianPrior):
            window = steps[:, None] - torch.arange(segment - 1, -1, -1)
            mean, std = (out[:, -1].reshape(len(x), len(steps), -1) for out in prior(x[:, window].flatten(0, 1)))
        else:
            mean, std = prior(x[:, steps])
        kl = gaussian_kl(Normal(mu[:, steps], EXPERT_STD), Normal(mean, std))
    arrived = torch.as_tensor(rewards)[:, steps - 1] > 0
    after = arrived | torch.roll(arrived, 1, 1) | torch.roll(arrived, 2, 1)
    return kl.mean().item(), kl[after].mean().item()


def train(prior: torch.nn.Module, inputs: np.ndarray, means: np.ndarray, segment: int, updates: int,
          batch: int, lr: float, seed: int) -> float:
    """Distil on random `segment`-step windows (each from a zero LSTM state, as replay gives them);
    returns the mean KL over the last 100 updates."""
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(prior.parameters(), lr=lr)
    x, mu = torch.as_tensor(inputs), torch.as_tensor(means)
    losses = []
    for _ in range(updates):
        episodes = rng.integers(len(x), size=batch)
        starts = rng.integers(x.shape[1] - segment + 1, size=batch)
        window = torch.as_tensor(starts)[:, None] + torch.arange(segment)
        xb, mb = x[episodes[:, None], window], mu[episodes[:, None], window]
        if not isinstance(prior, LSTMGaussianPrior):
            xb, mb = xb.reshape(-1, xb.shape[-1]), mb.reshape(-1, 2)
        mean, std = prior(xb)
        loss = gaussian_kl(Normal(mb, EXPERT_STD), Normal(mean, std)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return statistics.mean(losses[-100:])


def expert_actor() -> Actor:
    return lambda obs: (expert_mean(obs), np.full(2, EXPERT_STD))


def evaluate(prior: torch.nn.Module | None, env: PointMassNavigation, episodes: int, window: int,
             seed: int) -> tuple[float, float]:
    """Targets per episode and choice accuracy of the prior acting alone (sampled), or of the expert
    (prior None: the ceiling of the accuracy measure)."""
    start = expert_actor if prior is None else network_actor(
        prior, lambda obs: torch.as_tensor(prior_input(obs))[None], window)
    reached, choices = play(env, start, episodes, seed)
    return statistics.mean(reached), sum(choices) / max(len(choices), 1)


def save_module(prior: torch.nn.Module, prior_type: str, env: PointMassNavigation, path: Path) -> None:
    """An SVG0Prior module whose prior is `prior` (its other networks untrained, unused by a transfer)."""
    module = SVG0PriorTorchRLModule(observation_space=env.observation_space, action_space=env.action_space,
                                    model_config={"prior_keys": PRIOR_KEYS, "prior_type": prior_type})
    module.load_transfer({"prior": prior.state_dict()}, source="distilled")
    module.save_to_path(str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, nargs="+", default=[0], help="sequence_seeds of the task")
    parser.add_argument("--segment", type=int, default=20)
    parser.add_argument("--land-on-targets", action="store_true", help="the env's land_on_targets")
    parser.add_argument("--episodes", type=int, default=100, help="expert episodes to distil from")
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--save", type=Path, help="write each prior as an SVG0Prior module here")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    env = PointMassNavigation(sequence_seeds=args.tables, land_on_targets=args.land_on_targets, **TASK)
    start = time.time()
    inputs, means, _ = collect(env, args.episodes, seed=10_000)
    held_out = collect(env, 20, seed=20_000)
    print(f"expert data: {inputs.shape[0] * inputs.shape[1]} steps in {time.time() - start:.0f} s; the expert "
          f"reaches {held_out[2].sum(1).mean():.1f} targets per episode", flush=True)
    print(f"\ntables {args.tables}, land_on_targets {args.land_on_targets}, {args.segment}-step segments, {args.updates} updates of 32 segments, lr {args.lr}\n")
    print("| prior | seed | KL, training batches | KL, held-out expert episodes | KL, 3 steps after each target "
          "| alone: targets per episode | choice accuracy |")
    print("|---|---|---|---|---|---|---|")
    reached, accuracy = evaluate(None, env, episodes=10, window=args.segment, seed=100)
    print(f"| expert (sees the next target) | | | | | {reached:.1f} | {accuracy:.2f} |")
    for prior_type in ("mlp", "lstm"):
        for seed in args.seeds:
            torch.manual_seed(seed)
            prior = build_prior({"prior_type": prior_type}, inputs.shape[-1], 2)
            kl = train(prior, inputs, means, args.segment, args.updates, batch=32, lr=args.lr, seed=seed)
            kl_all, kl_after = held_out_kl(prior, *held_out, args.segment)
            reached, accuracy = evaluate(prior, env, episodes=10, window=args.segment, seed=100)
            print(f"| {prior_type} | {seed} | {kl:.3f} | {kl_all:.3f} | {kl_after:.3f} | {reached:.1f} | {accuracy:.2f} |",
                  flush=True)
            if args.save:
                save_module(prior, prior_type, env, args.save / f"{prior_type}_seed={seed}")


if __name__ == "__main__":
    main()
