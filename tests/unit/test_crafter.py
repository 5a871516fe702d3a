"""Crafter through behaviorlab's env registry: symbolic observation, downstream achievement tasks,
seeding, the scripted explorer and `collect_crafter`."""

import numpy as np
import pytest

pytest.importorskip("crafter")

from behaviorlab.envs import EnvConfigError, check_env_config, make_env, registered_envs  # noqa: E402
from behaviorlab.envs.crafter import (  # noqa: E402
    FACING_SLICE,
    INVENTORY_SLICE,
    NUM_CELL_IDS,
    OBSERVATION_SIZE,
    STATUS_SLICE,
    VIEW_COLUMNS,
    VIEW_ROWS,
    CrafterExplorer,
    decode_inventory,
    decode_view,
    material_ids,
    symbolic_observation,
)
from behaviorlab.envs.datasets import DatasetError, TrajectoryReader  # noqa: E402
from behaviorlab.envs.datasets.collect import collect_crafter  # noqa: E402


def test_registry_builds_crafter_and_checks_its_kwargs():
    assert registered_envs()["Crafter-v1"] == "crafter"
    check_env_config("Crafter-v1", {"task": "place_table", "max_episode_steps": 100})
    with pytest.raises(EnvConfigError, match="did you mean 'max_episode_steps'"):
        check_env_config("Crafter-v1", {"max_episode_step": 100})
    with pytest.raises(ValueError, match="choose an achievement"):
        make_env("Crafter-v1", {"task": "collect_gold"})
    env = make_env("Crafter-v1", {"observation": "pixels"})
    frame, _ = env.reset(seed=0)
    assert frame.shape == (64, 64, 3) and frame.dtype == np.uint8


def test_symbolic_view_crops_around_the_player_and_pads_outside_the_world():
    semantic = np.arange(36).reshape(6, 6) % NUM_CELL_IDS  # a 6×6 world, ids by position
    obs = symbolic_observation(semantic, np.array([1, 5]), (0, -1), list(range(16)), 0.25, True)
    assert obs.shape == (OBSERVATION_SIZE,)
    view = decode_view(obs)
    assert view.shape == (VIEW_COLUMNS, VIEW_ROWS)
    # The player's cell is column 4, row 3; world x = 1 + column − 4, y = 5 + row − 3.
    assert view[4, 3] == semantic[1, 5]
    assert view[5, 2] == semantic[2, 4] and view[3, 0] == semantic[0, 2]
    assert (view[:3] == 0).all()  # x < 0: outside
    assert (view[:, 4:] == 0).all()  # y > 5: outside
    assert obs[: VIEW_COLUMNS * VIEW_ROWS * NUM_CELL_IDS].reshape(-1, NUM_CELL_IDS).sum(1).tolist() == [1.0] * 63
    assert obs[FACING_SLICE].tolist() == [0, 0, 1, 0]  # up
    assert np.allclose(obs[INVENTORY_SLICE] * 9, np.arange(16))
    assert obs[STATUS_SLICE].tolist() == [0.25, 1.0]


def test_env_observation_matches_crafter_state_and_reset_seeds_the_world():
    env = make_env("Crafter-v1")
    first, _ = env.reset(seed=7)
    again, _ = env.reset(seed=7)
    other, _ = env.reset(seed=8)
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    assert env.observation_space.contains(first)
    assert decode_view(first)[4, 3] == material_ids()["player"]
    inventory = decode_inventory(first)
    assert inventory["health"] == 9 and inventory["wood"] == 0


def test_a_task_rewards_only_its_achievement_and_ends_the_episode():
    env = make_env("Crafter-v1", {"task": "collect_wood", "max_episode_steps": 400})
    explorer = CrafterExplorer(seed=0)
    obs, _ = env.reset(seed=1)
    rewards = []
    while True:
        obs, reward, terminated, truncated, info = env.step(explorer(obs))
        rewards.append(reward)
        if terminated or truncated:
            break
    assert terminated and "collect_wood" in info["achievements"]
    assert rewards[-1] == 1.0 and sum(rewards[:-1]) == 0.0  # no health shaping, nothing for other achievements


def test_time_limit_truncates_and_the_default_reward_counts_achievements():
    env = make_env("Crafter-v1", {"max_episode_steps": 50})
    obs, _ = env.reset(seed=0)
    explorer = CrafterExplorer(seed=0)
    total, steps = 0.0, 0
    while True:
        obs, reward, terminated, truncated, info = env.step(explorer(obs))
        total, steps = total + reward, steps + 1
        if terminated or truncated:
            break
    assert truncated and not terminated and steps == 50
    # Crafter's reward: +1 per new achievement, ±0.1 per health point.
    assert abs(total - len(info["achievements"])) <= 0.1 * 9 + 1e-6


def _achievements(policy, seed: int, steps: int = 300) -> int:
    env = make_env("Crafter-v1", {"max_episode_steps": steps})
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    while True:
        obs, _, terminated, truncated, info = env.step(policy(obs) if policy else int(rng.integers(17)))
        if terminated or truncated:
            return len(info["achievements"])


def test_the_explorer_unlocks_more_than_random_actions():
    explorer = [_achievements(CrafterExplorer(seed=seed), seed) for seed in range(5)]
    assert _achievements(CrafterExplorer(seed=1), 1) == explorer[1]  # seeded
    random = sum(_achievements(None, seed) for seed in range(5))
    assert sum(explorer) >= 1.5 * random, (explorer, random)  # measured: 22 vs 10 achievements over the 5 seeds


def test_collection_is_seeded_resumable_and_readable(tmp_path):
    summary = collect_crafter(tmp_path / "once", 3, seed=2, max_episode_steps=60, progress=None)
    assert summary.episodes_written == 3 and summary.total_episodes == 3
    collect_crafter(tmp_path / "twice", 1, seed=2, max_episode_steps=60, progress=None)
    resumed = collect_crafter(tmp_path / "twice", 3, seed=2, max_episode_steps=60, progress=None)
    assert resumed.episodes_written == 2
    once, twice = (list(TrajectoryReader(tmp_path / name).iter_batches(10_000)) for name in ("once", "twice"))
    assert np.array_equal(np.concatenate([b.obs for b in once]), np.concatenate([b.obs for b in twice]))
    assert np.array_equal(np.concatenate([b.action for b in once]), np.concatenate([b.action for b in twice]))
    reader = TrajectoryReader(tmp_path / "once")
    assert reader.spec.observation["shape"] == [OBSERVATION_SIZE]
    assert reader.metadata["attributes"]["observation_layout"] == "crafter-symbolic-v1"
    with pytest.raises(DatasetError, match="policy"):
        collect_crafter(tmp_path / "bad", 1, policy="expert", progress=None)
