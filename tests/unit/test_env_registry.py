"""Any gymnasium env: registered ids, gymnasium's `module:EnvId`, and Discrete/Tuple observations flattened."""

import sys

import gymnasium as gym
import numpy as np
import pytest

from behaviorlab.envs import EnvConfigError, check_env_config, env_info, make_env

USER_MODULE = '''
import gymnasium as gym


class Corridor(gym.Env):
    observation_space = gym.spaces.Tuple((gym.spaces.Discrete(4), gym.spaces.Discrete(2)))
    action_space = gym.spaces.Discrete(2)

    def __init__(self, length=4):
        self.length = length

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return (0, 0), {}

    def step(self, action):
        return (min(int(action) * 3, 3), 1), 0.0, False, False, {}


gym.register("UserCorridor-v0", entry_point=Corridor, max_episode_steps=3)
'''


@pytest.fixture
def user_package(tmp_path, monkeypatch):
    """A user's module next to the spec, importable only because it is in the working directory."""
    (tmp_path / "user_corridor_pkg.py").write_text(USER_MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield
    sys.modules.pop("user_corridor_pkg", None)
    gym.registry.pop("UserCorridor-v0", None)


def test_any_registered_gymnasium_id_builds_with_discrete_observations_one_hot():
    assert env_info("Taxi-v3").family == "gymnasium"
    env = make_env("Taxi-v3", {"max_episode_steps": 5})
    obs, _ = env.reset(seed=0)
    assert env.observation_space == gym.spaces.Box(0, 1, (500,), np.float32)
    assert obs.dtype == np.float32 and obs.sum() == 1  # one-hot
    with pytest.raises(EnvConfigError, match="did you mean 'is_rainy'"):
        check_env_config("Taxi-v3", {"is_rainyy": True})


def test_module_env_id_applies_the_registered_time_limit(user_package):
    info = env_info("user_corridor_pkg:UserCorridor-v0")
    assert info.family == "gymnasium" and {"length", "max_episode_steps"} <= info.accepted_kwargs
    env = make_env("user_corridor_pkg:UserCorridor-v0")
    obs, _ = env.reset(seed=0)
    assert obs.shape == (6,) and obs.dtype == np.float32  # Tuple(Discrete(4), Discrete(2)) one-hot, concatenated
    truncated = [env.step(0)[3] for _ in range(3)]
    assert truncated == [False, False, True]


def test_module_class_from_the_working_directory_is_flattened_too(user_package):
    assert env_info("user_corridor_pkg:Corridor").family == "custom"
    assert make_env("user_corridor_pkg:Corridor", {"length": 4}).observation_space.shape == (6,)


def test_unknown_ids_still_get_did_you_mean():
    with pytest.raises(EnvConfigError, match="did you mean 'Taxi-v3'"):
        env_info("Taxi-v2")
    with pytest.raises(EnvConfigError, match="did you mean 'FrozenLake-v1'"):
        env_info("FrozenLake-v2")


def test_box_observations_are_untouched():
    assert type(make_env("CartPole-v1").observation_space) is gym.spaces.Box
    assert make_env("CartPole-v1").observation_space.dtype == np.float32
