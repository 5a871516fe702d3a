"""Envs that misbehave on purpose, loaded by specs as `envs_for_tests:Name` (PYTHONPATH set by the tests)."""

import math

import gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class FlakyCartPole(gym.Wrapper):
    """CartPole whose step raises every `fail_every` steps, as a crashing simulator would."""

    def __init__(self, fail_every: int = 700):
        super().__init__(gym.wrappers.TimeLimit(CartPoleEnv(), max_episode_steps=500))
        self.fail_every = fail_every
        self.steps = 0

    def step(self, action):
        self.steps += 1
        if self.steps % self.fail_every == 0:
            raise RuntimeError(f"simulated simulator crash at step {self.steps}")
        return self.env.step(action)


class InfiniteRewardCartPole(gym.Wrapper):
    """CartPole whose reward becomes +inf: the returns it reports are not finite."""

    def __init__(self):
        super().__init__(gym.wrappers.TimeLimit(CartPoleEnv(), max_episode_steps=500))

    def step(self, action):
        obs, _, terminated, truncated, info = self.env.step(action)
        return obs, math.inf, terminated, truncated, info


class DictObsCartPole(gym.ObservationWrapper):
    """CartPole with a Dict observation, to check that dict observations pass through untouched."""

    def __init__(self):
        super().__init__(CartPoleEnv())
        box = self.env.observation_space
        self.observation_space = gym.spaces.Dict({"position": gym.spaces.Box(box.low[:2], box.high[:2]),
                                                  "velocity": gym.spaces.Box(box.low[2:], box.high[2:])})

    def observation(self, obs):
        return {"position": obs[:2], "velocity": obs[2:]}
