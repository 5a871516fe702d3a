"""Env registry: names, kwargs checks, MuJoCo/classic/custom creation, dict observations."""

import gymnasium as gym
import numpy as np
import pytest

from behaviorlab.envs import MUJOCO, EnvConfigError, check_env_config, env_info, make_env, registered_envs


def test_registry_lists_every_family():
    envs = registered_envs()
    assert envs["CartPole-v1"] == "classic control" and envs["HalfCheetah-v5"] == "mujoco"
    assert sum(family == "atari" for family in envs.values()) >= 57


@pytest.mark.parametrize("env_id", ["Pendulum-v1", *MUJOCO])
def test_classic_and_mujoco_envs_build_and_step(env_id):
    env = make_env(env_id)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs.astype(env.observation_space.dtype))
    env.step(env.action_space.sample())
    env.close()


def test_env_config_reaches_the_env_and_unknown_keys_are_named():
    env = make_env("CartPole-v1", {"max_episode_steps": 7})
    env.reset(seed=0)
    steps = 0
    while True:
        steps += 1
        _, _, terminated, truncated, _ = env.step(0 if steps % 2 else 1)
        if terminated or truncated:
            break
    assert steps <= 7
    with pytest.raises(EnvConfigError, match="did you mean 'ctrl_cost_weight'") as error:
        check_env_config("HalfCheetah-v5", {"ctrl_cost_weigth": 0.1})
    assert error.value.key == "env_config.ctrl_cost_weigth"


def test_custom_entry_point_and_dict_observations_pass_through():
    info = env_info("tests.integration.envs_for_tests:DictObsCartPole")
    assert info.family == "custom"
    env = make_env("tests.integration.envs_for_tests:DictObsCartPole")
    obs, _ = env.reset(seed=0)
    assert isinstance(env.observation_space, gym.spaces.Dict) and set(obs) == {"position", "velocity"}
    assert np.asarray(obs["position"]).shape == (2,)


def test_unknown_env_suggests_the_closest_id():
    with pytest.raises(EnvConfigError, match="did you mean 'ALE/Pong-v5'"):
        env_info("ALE/Pongg-v5")
