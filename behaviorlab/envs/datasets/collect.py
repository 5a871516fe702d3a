"""Task-agnostic BabyAI datasets: minigrid's BabyAIBot solving random missions of chosen levels.

Episode i plays level `levels[i % len(levels)]` from reset seed SeedSequence([seed, i]), so a
dataset is a function of (levels, seed, episodes) and a resumed collection continues exactly
where the interrupted one stopped (each episode's source, `LEVEL#i`, records its index). An
episode is written only once it ends, so a crash never leaves half an episode; an episode on
which the bot raises (it does on a few rare layouts) is skipped and counted.

Observations are `behaviorlab.envs.minigrid`'s flat vector (the layout is recorded in the
dataset's attributes); actions int64; rewards the level's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from behaviorlab.envs.datasets.trajectories import (
    METADATA_FILE,
    DatasetError,
    TrajectoryWriter,
)
from behaviorlab.envs.minigrid import OBSERVATION_LAYOUT, babyai_ids, make_babyai


@dataclass(frozen=True)
class CollectionSummary:
    episodes_written: int  # by this call
    episodes_skipped: int  # the bot raised
    steps_written: int
    successes: int  # episodes of this call that ended with a positive reward
    seconds: float
    total_episodes: int  # in the dataset after this call

    @property
    def steps_per_second(self) -> float:
        return self.steps_written / self.seconds if self.seconds else 0.0


def episode_seed(seed: int, index: int) -> int:
    """Reset seed of episode `index`: independent streams for different collection seeds."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _play(env, level_seed: int) -> tuple[list, list, list, bool]:
    """One bot episode: observations, actions, rewards, and whether it terminated (vs a time limit)."""
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
            return observations, actions, rewards, bool(terminated)


def collect_babyai(out: str | Path, levels: Sequence[str], episodes: int, *, seed: int = 0,
                   max_episode_steps: int | None = None, command: str = "",
                   progress: Callable[[str], None] | None = print) -> CollectionSummary:
    """Write (or resume) a dataset of `episodes` bot episodes at `out`; returns what this call did."""
    if not levels:
        raise DatasetError("collect: give at least one BabyAI level")
    known = babyai_ids()
    unknown = [level for level in levels if level not in known]
    if unknown:
        raise DatasetError(f"collect: unknown BabyAI level(s) {', '.join(unknown)}; see `behaviorlab envs --family babyai`")
    out = Path(out)
    envs = {level: make_babyai(level, max_episode_steps=max_episode_steps) for level in levels}
    attributes = {"observation_layout": OBSERVATION_LAYOUT, "num_actions": int(envs[levels[0]].action_space.n),
                  "levels": list(levels), "seed": seed, "max_episode_steps": max_episode_steps}
    mode = "append" if (out / METADATA_FILE).exists() else "create"
    start = time.perf_counter()
    written = skipped = steps = successes = 0
    with TrajectoryWriter(out, mode=mode, source="BabyAIBot (minigrid.utils.baby_ai_bot)", command=command,
                          attributes=attributes, shard_steps=20_000) as writer:
        done_indices = {int(source.rpartition("#")[2]) for source in writer.sources if "#" in source}
        first = max(done_indices, default=-1) + 1
        report_every = max(1, (episodes - first) // 20)
        for index in range(first, episodes):
            level = levels[index % len(levels)]
            try:
                observations, actions, rewards, terminated = _play(envs[level], episode_seed(seed, index))
            except Exception:  # noqa: BLE001 - the bot fails on rare layouts in several ways; skip them
                skipped += 1
                continue
            for obs, action, reward in zip(observations, actions, rewards):
                writer.add_step(obs, np.int64(action), reward=reward)
            writer.end_episode(terminated=terminated, source=f"{level}#{index}")
            written += 1
            steps += len(actions)
            successes += rewards[-1] > 0
            if progress and (written % report_every == 0 or index == episodes - 1):
                elapsed = time.perf_counter() - start
                progress(f"[collect] episode {index + 1:,}/{episodes:,} | {steps:,} steps | "
                         f"{steps / elapsed:,.0f} steps/s | bot success {successes / written:.2f} | skipped {skipped}")
        total = writer.num_episodes
    return CollectionSummary(written, skipped, steps, successes, time.perf_counter() - start, total)
