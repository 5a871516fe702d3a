"""MinAtar through behaviorlab's env registry: ids, spaces, stepping, seeding, env_config, missing package."""

import sys

import gymnasium as gym
import numpy as np
import pytest

from behaviorlab.envs import EnvConfigError, check_env_config, env_info, make_env, registered_envs

# Channels per game and the size of its minimal action set (MinAtar/<Game>-v1).
GAMES = {"Asterix": (4, 5), "Breakout": (4, 3), "Freeway": (7, 3), "Seaquest": (10, 6), "SpaceInvaders": (6, 4)}


def test_registry_lists_every_game():
    envs = registered_envs()
    minatar = sorted(env_id for env_id, family in envs.items() if family == "minatar")
    assert minatar == sorted(f"MinAtar/{game}-v1" for game in GAMES)
    assert env_info("MinAtar/Breakout-v1").family == "minatar"


@pytest.mark.parametrize("game", GAMES)
def test_spaces_reset_and_step(game):
    channels, minimal_actions = GAMES[game]
    env = make_env(f"MinAtar/{game}-v1")
    assert env.observation_space == gym.spaces.Box(0.0, 1.0, (10, 10, channels), np.float32)
    assert env.action_space == gym.spaces.Discrete(minimal_actions)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert set(np.unique(obs)) <= {0.0, 1.0} and obs.sum() > 0
    for _ in range(20):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert env.observation_space.contains(obs) and isinstance(float(reward), float)
        if terminated or truncated:
            env.reset()
    env.close()
    assert make_env(f"MinAtar/{game}-v1", {"full_action_space": True}).action_space == gym.spaces.Discrete(6)


def _trajectory(seed, steps=300):
    env = make_env("MinAtar/Breakout-v1")
    actions = np.random.default_rng(0)
    frames = [env.reset(seed=seed)[0]]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(int(actions.integers(3)))
        frames.append(obs * (1 + reward))
        if terminated or truncated:
            frames.append(env.reset()[0])
    return np.stack(frames)


def test_seeded_resets_are_reproducible():
    first = _trajectory(seed=5)
    np.testing.assert_array_equal(first, _trajectory(seed=5))
    other = _trajectory(seed=6)
    assert first.shape != other.shape or not np.array_equal(first, other)


def test_env_config_is_checked_and_reaches_the_game():
    check_env_config("MinAtar/Breakout-v1", {"sticky_action_prob": 0.0, "difficulty_ramping": False, "max_episode_steps": 5})
    with pytest.raises(EnvConfigError, match="did you mean 'sticky_action_prob'"):
        check_env_config("MinAtar/Breakout-v1", {"sticky_action_prb": 0.0})
    env = make_env("MinAtar/Breakout-v1", {"sticky_action_prob": 0.0, "max_episode_steps": 5})
    assert env.unwrapped.game.sticky_action_prob == 0.0
    env.reset(seed=0)
    # Staying still does not lose the ball within 5 steps; the time limit ends the episode.
    outcomes = [env.step(0)[2:4] for _ in range(5)]
    assert outcomes[-1] == (False, True) and all(outcome == (False, False) for outcome in outcomes[:-1])


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "minatar", None)  # makes `import minatar` raise ImportError
    monkeypatch.setitem(sys.modules, "minatar.gym", None)
    with pytest.raises(EnvConfigError, match=r"MinAtar/Breakout-v1: .*pip install 'behaviorlab\[minatar\]'"):
        env_info("MinAtar/Breakout-v1")
    with pytest.raises(ImportError, match=r"pip install 'behaviorlab\[minatar\]'"):
        make_env("MinAtar/Breakout-v1")
    assert "MinAtar/Breakout-v1" in registered_envs()  # still listed
