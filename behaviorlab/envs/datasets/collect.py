"""Datasets played in an env: task-agnostic ones (BabyAI's bot on random missions, a scripted explorer
in Crafter) and expert demonstrations of a trained policy (`collect_policy`).

BabyAI: episode i plays level `levels[i % len(levels)]` from reset seed SeedSequence([seed, i]),
and minigrid's BabyAIBot solves its mission. Crafter: episode i plays the world of reset seed
SeedSequence([seed, i]) with `CrafterExplorer` (or uniformly random actions) seeded the same way.
So a dataset is a function of its arguments, and a resumed collection continues exactly where the
interrupted one stopped (each episode's source, `NAME#i`, records its index). An episode is written
only once it ends, so a crash never leaves half an episode; an episode on which the BabyAI bot
raises (it does on a few rare layouts) is skipped and counted.

Observations are the flat vectors of `behaviorlab.envs.minigrid` / `behaviorlab.envs.crafter`
(the layout is recorded in the dataset's attributes); actions int64; rewards the env's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

from behaviorlab.envs.datasets.trajectories import (
    METADATA_FILE,
    DatasetError,
    TrajectoryWriter,
)
from behaviorlab.envs.minigrid import babyai_ids, make_babyai

CRAFTER_POLICIES = ("explorer", "random")


@dataclass(frozen=True)
class CollectionSummary:
    episodes_written: int  # by this call
    episodes_skipped: int  # the BabyAI bot raised
    steps_written: int
    successes: int  # episodes of this call with a positive return (BabyAI: solved; Crafter: any achievement)
    seconds: float
    total_episodes: int  # in the dataset after this call

    @property
    def steps_per_second(self) -> float:
        return self.steps_written / self.seconds if self.seconds else 0.0


def episode_seed(seed: int, index: int) -> int:
    """Reset seed of episode `index`: independent streams for different collection seeds."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


# One episode: (observations, actions, rewards, terminated (vs a time limit), extra progress text).
Episode = tuple[list, list, list, bool, str]


def _collect(out: Path, episodes: int, play: Callable[[int], tuple[str, Episode]], *, source: str, command: str,
             attributes: dict, success_name: str, progress: Callable[[str], None] | None) -> CollectionSummary:
    """Write episodes first…episodes-1 of `play(index) -> (name, episode)` to the dataset at `out`,
    continuing after the highest index it already holds."""
    mode = "append" if (out / METADATA_FILE).exists() else "create"
    start = time.perf_counter()
    written = skipped = steps = successes = 0
    with TrajectoryWriter(out, mode=mode, source=source, command=command, attributes=attributes,
                          shard_steps=20_000) as writer:
        done_indices = {int(name.rpartition("#")[2]) for name in writer.sources if "#" in name}
        first = max(done_indices, default=-1) + 1
        report_every = max(1, (episodes - first) // 20)
        for index in range(first, episodes):
            try:
                name, (observations, actions, rewards, terminated, extra) = play(index)
            except Exception:  # noqa: BLE001 - the BabyAI bot fails on rare layouts in several ways; skip them
                skipped += 1
                continue
            for obs, action, reward in zip(observations, actions, rewards):
                writer.add_step(obs, np.int64(action), reward=reward)
            writer.end_episode(terminated=terminated, source=f"{name}#{index}")
            written += 1
            steps += len(actions)
            successes += sum(rewards) > 0
            if progress and (written % report_every == 0 or index == episodes - 1):
                elapsed = time.perf_counter() - start
                progress(f"[collect] episode {index + 1:,}/{episodes:,} | {steps:,} steps | "
                         f"{steps / elapsed:,.0f} steps/s | {success_name} {successes / written:.2f} | "
                         f"skipped {skipped}{extra}")
        total = writer.num_episodes
    return CollectionSummary(written, skipped, steps, successes, time.perf_counter() - start, total)


def _play_babyai(env, level_seed: int) -> Episode:
    from minigrid.utils.baby_ai_bot import BabyAIBot

    obs, _ = env.reset(seed=level_seed)
    bot = BabyAIBot(env.unwrapped)
    observations, actions, rewards = [], [], []
    while True:
        action = int(bot.replan())
        next_obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(float(reward))
        obs = next_obs
        if terminated or truncated:
            return observations, actions, rewards, bool(terminated), ""


def collect_babyai(out: str | Path, levels: Sequence[str], episodes: int, *, seed: int = 0,
                   max_episode_steps: int | None = None, command: str = "",
                   progress: Callable[[str], None] | None = print) -> CollectionSummary:
    """Write (or resume) a dataset of `episodes` BabyAI bot episodes at `out`; returns what this call did."""
    from behaviorlab.envs.minigrid import OBSERVATION_LAYOUT

    if not levels:
        raise DatasetError("collect: give at least one BabyAI level (--levels)")
    known = babyai_ids()
    unknown = [level for level in levels if level not in known]
    if unknown:
        raise DatasetError(f"collect: unknown BabyAI level(s) {', '.join(unknown)}; see `behaviorlab envs --family babyai`")
    envs = {level: make_babyai(level, max_episode_steps=max_episode_steps) for level in levels}
    attributes = {"observation_layout": OBSERVATION_LAYOUT, "num_actions": int(envs[levels[0]].action_space.n),
                  "levels": list(levels), "seed": seed, "max_episode_steps": max_episode_steps}

    def play(index: int) -> tuple[str, Episode]:
        level = levels[index % len(levels)]
        return level, _play_babyai(envs[level], episode_seed(seed, index))

    return _collect(Path(out), episodes, play, source="BabyAIBot (minigrid.utils.baby_ai_bot)", command=command,
                    attributes=attributes, success_name="bot success", progress=progress)


def collect_crafter(out: str | Path, episodes: int, *, policy: str = "explorer", seed: int = 0,
                    max_episode_steps: int = 1000, epsilon: float = 0.1, command: str = "",
                    progress: Callable[[str], None] | None = print) -> CollectionSummary:
    """Write (or resume) a dataset of `episodes` Crafter episodes (symbolic observations, Crafter's
    reward) played by `policy`: "explorer" (`CrafterExplorer`, random actions with probability
    `epsilon`) or "random" (uniform actions)."""
    from behaviorlab.envs.crafter import OBSERVATION_LAYOUT, CrafterEnv, CrafterExplorer

    if policy not in CRAFTER_POLICIES:
        raise DatasetError(f"collect: Crafter policy {policy!r}: choose one of {', '.join(CRAFTER_POLICIES)}")
    env = CrafterEnv(max_episode_steps=max_episode_steps)
    attributes = {"observation_layout": OBSERVATION_LAYOUT, "num_actions": int(env.action_space.n), "env": "Crafter-v1",
                  "policy": policy, "epsilon": epsilon, "seed": seed, "max_episode_steps": max_episode_steps}
    counts = {"episodes": 0, "achievements": 0}  # this call's, for the progress line

    def play(index: int) -> tuple[str, Episode]:
        episode_rng_seed = episode_seed(seed, index)
        explorer = CrafterExplorer(seed=episode_rng_seed, epsilon=epsilon)
        rng = np.random.default_rng(episode_rng_seed)
        obs, _ = env.reset(seed=episode_rng_seed)
        observations, actions, rewards = [], [], []
        while True:
            action = explorer(obs) if policy == "explorer" else int(rng.integers(env.action_space.n))
            next_obs, reward, terminated, truncated, info = env.step(action)
            observations.append(obs)
            actions.append(action)
            rewards.append(reward)
            obs = next_obs
            if terminated or truncated:
                counts["episodes"] += 1
                counts["achievements"] += len(info["achievements"])
                extra = f" | achievements per episode {counts['achievements'] / counts['episodes']:.1f}"
                return "Crafter-v1", (observations, actions, rewards, terminated, extra)

    return _collect(Path(out), episodes, play, source="CrafterExplorer (behaviorlab.envs.crafter)" if policy == "explorer" else "uniformly random actions",
                    command=command, attributes=attributes, success_name="with an achievement", progress=progress)


@dataclass(frozen=True)
class PolicyCollectionSummary:
    episodes: int
    steps: int
    episode_returns: list[float]
    checkpoint: str
    seconds: float

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.episode_returns))


def collect_policy(out: str | Path, policy_path: str | Path, env_id: str, episodes: int, *, greedy: bool = True,
                   seed: int = 0, env_config: dict | None = None, command: str = "",
                   progress: Callable[[str], None] | None = print, trusted: bool = False) -> PolicyCollectionSummary:
    """Record `episodes` episodes of a trained policy (`behaviorlab.platform.policy.load_policy`: a run,
    trial or checkpoint directory) in `env_id` as a new dataset at `out`: observations, the actions
    the env received, rewards; episode i reset with seed `episode_seed(seed, i)`. Actions are the
    policy's greedy ones or sampled (`greedy`), recorded in the attributes with the checkpoint, the
    env and every episode's return. Everything is checked, and all episodes played, before anything
    is written: bad input leaves no directory behind (DatasetError, PolicyError or EnvConfigError).
    `trusted`: load the checkpoint's pickles as RLlib does (see `load_policy`)."""
    from behaviorlab.envs import check_env_config, make_env
    from behaviorlab.platform.policy import load_policy, rollout

    out = Path(out)
    if episodes < 1:
        raise DatasetError(f"collect: --episodes {episodes}: give at least 1")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DatasetError(f"{out}: already exists and is not empty; give a new --out directory or delete it")
    env_config = dict(env_config or {})
    check_env_config(env_id, env_config)
    policy = load_policy(policy_path, trusted)
    env = make_env(env_id, env_config)
    policy.check_env(env, env_id)
    start = time.perf_counter()
    played = []
    for index in range(episodes):
        played.append(rollout(env, lambda obs: policy.act(obs, greedy), episode_seed(seed, index)))
        if progress:
            progress(f"[collect] episode {index + 1:,}/{episodes:,} | return {played[-1].episode_return:.2f}")
    returns = [round(episode.episode_return, 4) for episode in played]
    attributes = {"env": env_id, "env_config": env_config, "policy": str(policy.checkpoint),
                  "actions": "greedy" if greedy else "sampled", "seed": seed,
                  "mean_return": round(float(np.mean(returns)), 4), "episode_returns": returns}
    if isinstance(env.action_space, gym.spaces.Discrete):
        attributes["num_actions"] = int(env.action_space.n)  # read by PTGM's load_transitions
    with TrajectoryWriter(out, source=f"{policy.run_config.get('algorithm', 'RLlib')} policy {policy.checkpoint}",
                          command=command, attributes=attributes, shard_steps=20_000) as writer:
        for index, episode in enumerate(played):
            for obs, action, reward in zip(episode.observations, episode.actions, episode.rewards):
                writer.add_step(obs, action, reward=reward)
            writer.end_episode(terminated=episode.terminated, source=f"{env_id}#{index}")
    return PolicyCollectionSummary(episodes, sum(len(e.actions) for e in played), returns, str(policy.checkpoint),
                                   time.perf_counter() - start)
