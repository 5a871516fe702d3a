"""Continuous-action tasks with a discrete grid of actions, for value-based methods (DQN, SV-RL).

`DiscretePendulum-v1` is gymnasium's Pendulum-v1 with its torque range [−2, 2] cut into
`num_actions` evenly spaced values (21 by default, so that a Q matrix over a batch of states has
many columns: the setting in which SV-RL's low-rank completion has something to exploit).
"""

from __future__ import annotations

import itertools

import gymnasium as gym
import numpy as np


class DiscretizeAction(gym.ActionWrapper):
    """Discrete(n ** d) over a d-dimensional Box: every combination of `num_actions` evenly spaced
    values per dimension, from low to high (both included)."""

    def __init__(self, env: gym.Env, num_actions: int):
        super().__init__(env)
        space = env.action_space
        if not isinstance(space, gym.spaces.Box) or not np.all(np.isfinite(space.low) & np.isfinite(space.high)):
            raise ValueError(f"DiscretizeAction needs a bounded Box action space; got {space}")
        if not isinstance(num_actions, int) or num_actions < 2:
            raise ValueError(f"num_actions must be an integer >= 2; got {num_actions!r}")
        grids = [np.linspace(low, high, num_actions) for low, high in zip(space.low.ravel(), space.high.ravel())]
        self.actions = np.array(list(itertools.product(*grids)), dtype=space.dtype).reshape(-1, *space.shape)
        self.action_space = gym.spaces.Discrete(len(self.actions))

    def action(self, action) -> np.ndarray:
        return self.actions[int(action)]


class DiscretePendulum(DiscretizeAction):
    """Pendulum-v1 with `num_actions` torques (default 21)."""

    def __init__(self, num_actions: int = 21, max_episode_steps: int = 200, render_mode: str | None = None):
        super().__init__(gym.make("Pendulum-v1", max_episode_steps=max_episode_steps, render_mode=render_mode),
                         num_actions)
