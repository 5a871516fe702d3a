"""A random tabular MDP whose Q matrix is high rank: the negative control for SV-RL.

50 states (one-hot observations) × 18 actions; rewards r(s, a) ~ U(−1, 1) independently, and each
(s, a) leads to one of `branching` random next states with Dirichlet(1) probabilities. The i.i.d.
rewards make the action-dependent part of Q = r + γ P V, Q − mean_a Q, full rank (16 of 18 singular
values hold 99 % of its energy at the defaults), so filling hidden entries of Q by low-rank completion
can only guess the actions' differences. (Q itself has a 99 %-energy rank of 1: the state values,
≈ 8.6 ± 1, dwarf the reward differences.) The MDP is fixed by `mdp_seed`;
`reset(seed=…)` seeds only the start state and transitions. Episodes last `episode_length` steps.
`optimal_q()` gives the exact Q* by value iteration (its rank and return are the reference).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class RandomMDP(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, num_states: int = 50, num_actions: int = 18, branching: int = 3, episode_length: int = 50,
                 gamma: float = 0.9, mdp_seed: int = 0):
        for name, value, low in (("num_states", num_states, 2), ("num_actions", num_actions, 2),
                                 ("branching", branching, 1), ("episode_length", episode_length, 1)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}; got {value!r}")
        if branching > num_states:
            raise ValueError(f"branching ({branching}) cannot exceed num_states ({num_states})")
        rng = np.random.default_rng(mdp_seed)
        self.rewards = rng.uniform(-1.0, 1.0, size=(num_states, num_actions)).astype(np.float32)
        self.transitions = np.zeros((num_states, num_actions, num_states))
        for s in range(num_states):
            for a in range(num_actions):
                targets = rng.choice(num_states, size=branching, replace=False)
                self.transitions[s, a, targets] = rng.dirichlet(np.ones(branching))
        self.gamma, self.episode_length = gamma, episode_length
        self.observation_space = gym.spaces.Box(0.0, 1.0, (num_states,), np.float32)
        self.action_space = gym.spaces.Discrete(num_actions)
        self._state, self._t = 0, 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.observation_space.shape, np.float32)
        obs[self._state] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        self._state, self._t = int(self.np_random.integers(len(self.rewards))), 0
        return self._obs(), {}

    def step(self, action):
        reward = float(self.rewards[self._state, int(action)])
        self._state = int(self.np_random.choice(len(self.rewards), p=self.transitions[self._state, int(action)]))
        self._t += 1
        return self._obs(), reward, False, self._t >= self.episode_length, {}

    def optimal_q(self, tol: float = 1e-8) -> np.ndarray:
        """Q* [states, actions] of the discounted infinite-horizon MDP, by value iteration."""
        q = np.zeros_like(self.rewards, dtype=np.float64)
        while True:
            new = self.rewards + self.gamma * self.transitions @ q.max(axis=1)
            if np.abs(new - q).max() < tol:
                return new
            q = new
