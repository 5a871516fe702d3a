"""Causal-confusion testbeds (de Haan, Jayaraman & Levine, NeurIPS 2019): the observation followed by
a slot that holds the previous action (CONFOUNDED) or an independent random action (ORIGINAL).

`PreviousActionObservation(env, mode)` works on any env with a Box observation (flattened) and a
Discrete (one-hot slot) or Box (the action itself, clipped to the space) action space. The slot is 0
after reset. CONFOUNDED: after each step, the action just taken — a nuisance variable that correlates
with the expert's next action but does not cause it. ORIGINAL: an action drawn from the action space
(uniform), fresh every step, in training and in evaluation, from the env's own seeded generator.

`previous_action_slots` builds the same slots for recorded episodes, so demonstrations of an expert
that acts on the original observation only can be turned into either setting (the expert must never
see the slot: in CONFOUNDED it would be a true cause of its action).

Registered ids: `Confounded-/Original-` × MountainCar-v0, CartPole-v1, Hopper-v5, and
`RichStart-MountainCar-v0` (no slot) for experts and demonstrations. MountainCar's env_config:
`rich_starts` (the official code's MountainCarRich: position ~ U(-1, 0.5), velocity ~ N(0, 0.07)
clipped, for broad demonstrations) and `shaping`, a dense reward for training an expert: "height"
(-1 + 0.5·height, height = 0.45·sin(3·position) + 0.55 ∈ [0.1, 1]: the official expert's) or
"energy" (-1 + γΦ(s') − Φ(s) with Φ = 10⁴·(v²/2 + 0.0025/3·sin(3·position)), the car's mechanical
energy, γ = 0.99: potential-based, so the optimal policy is the true reward's — Ng et al. 1999)."""

from __future__ import annotations

from collections.abc import Sequence

import gymnasium as gym
import numpy as np

MODES = ("confounded", "original")
BASE_IDS = ("MountainCar-v0", "CartPole-v1", "Hopper-v5")
CAUSAL_CONFUSION_IDS: dict[str, tuple[str, str]] = {
    f"{mode.capitalize()}-{base}": (base, mode) for base in BASE_IDS for mode in MODES
}
RICH_START_ID = "RichStart-MountainCar-v0"
MOUNTAIN_CAR_KWARGS = frozenset({"rich_starts", "shaping", "max_episode_steps"})
SHAPINGS = ("none", "height", "energy")


def encode_action(action, action_space: gym.Space) -> np.ndarray:
    """The slot's value for one action: one-hot (Discrete) or the flattened action clipped to its Box."""
    if isinstance(action_space, gym.spaces.Discrete):
        slot = np.zeros(action_space.n, np.float32)
        slot[int(action) - action_space.start] = 1.0
        return slot
    return np.clip(np.asarray(action, np.float32), action_space.low, action_space.high).ravel()


def slot_space(action_space: gym.Space) -> gym.spaces.Box:
    if isinstance(action_space, gym.spaces.Discrete):
        return gym.spaces.Box(0.0, 1.0, (action_space.n,), np.float32)
    if isinstance(action_space, gym.spaces.Box):
        return gym.spaces.Box(action_space.low.ravel().astype(np.float32), action_space.high.ravel().astype(np.float32))
    raise ValueError(f"PreviousActionObservation: action space {action_space} is neither Discrete nor Box")


def previous_action_slots(actions: np.ndarray, episode_starts: np.ndarray, action_space: gym.Space, mode: str,
                          rng: np.random.Generator) -> np.ndarray:
    """Slots [N, slot size] for recorded steps (actions[i] taken in observation i; episode_starts[i]
    True at each episode's first step), exactly as the wrapper shows them: 0 at an episode's first
    step, then the previous action (confounded) or a random action drawn with `rng` (original)."""
    _check_mode(mode)
    space = slot_space(action_space)
    slots = np.zeros((len(actions), space.shape[0]), np.float32)
    for i in np.flatnonzero(~np.asarray(episode_starts, bool)):
        source = actions[i - 1] if mode == "confounded" else _random_action(action_space, rng)
        slots[i] = encode_action(source, action_space)
    return slots


def _random_action(action_space: gym.Space, rng: np.random.Generator):
    if isinstance(action_space, gym.spaces.Discrete):
        return action_space.start + rng.integers(action_space.n)
    return rng.uniform(action_space.low, action_space.high).astype(np.float32)


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"PreviousActionObservation: mode '{mode}' is not one of {', '.join(MODES)}")


class PreviousActionObservation(gym.Wrapper):
    """[flattened observation, slot]; see the module docstring."""

    def __init__(self, env: gym.Env, mode: str = "confounded"):
        super().__init__(env)
        _check_mode(mode)
        if not isinstance(env.observation_space, gym.spaces.Box):
            raise ValueError(f"PreviousActionObservation: observation space {env.observation_space} is not a Box")
        self.mode = mode
        slot = slot_space(env.action_space)
        base = env.observation_space
        self.observation_space = gym.spaces.Box(
            np.concatenate([base.low.ravel(), slot.low]).astype(np.float32),
            np.concatenate([base.high.ravel(), slot.high]).astype(np.float32))
        self._zeros = np.zeros(slot.shape, np.float32)

    def _observe(self, obs, slot: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(obs, np.float32).ravel(), slot])

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return self._observe(obs, self._zeros), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        source = action if self.mode == "confounded" else _random_action(self.action_space, self.np_random)
        return self._observe(obs, encode_action(source, self.action_space)), reward, terminated, truncated, info


class RichStartMountainCar(gym.Wrapper):
    """MountainCar whose episodes start anywhere (`rich_starts`) and/or pay a dense reward
    (`shaping`); see the module docstring."""

    def __init__(self, env: gym.Env, rich_starts: bool = True, shaping: str = "none", gamma: float = 0.99):
        super().__init__(env)
        if shaping not in SHAPINGS:
            raise ValueError(f"MountainCar: shaping '{shaping}' is not one of {', '.join(SHAPINGS)}")
        self.rich_starts, self.shaping, self.gamma = rich_starts, shaping, gamma
        self._potential = 0.0

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        if self.rich_starts:
            car = self.env.unwrapped
            velocity = np.clip(self.np_random.normal(0.0, 0.07), -car.max_speed, car.max_speed)
            car.state = np.array([self.np_random.uniform(-1.0, 0.5), velocity])
            obs = np.array(car.state, np.float32)
        self._potential = energy_potential(obs)
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.shaping == "height":
            reward = -1.0 + 0.5 * (0.45 * np.sin(3.0 * obs[0]) + 0.55)
        elif self.shaping == "energy":
            potential = 0.0 if terminated else energy_potential(obs)  # Φ = 0 after the end keeps it policy-invariant
            reward = float(reward) + self.gamma * potential - self._potential
            self._potential = potential
        return obs, reward, terminated, truncated, info


def energy_potential(obs) -> float:
    """10⁴ × MountainCar's mechanical energy per unit mass (its gravity term is 0.0025·cos(3x))."""
    return 1e4 * (0.5 * float(obs[1]) ** 2 + 0.0025 / 3.0 * np.sin(3.0 * float(obs[0])))


def make_mountain_car(rich_starts: bool = False, shaping: str = "none", max_episode_steps: int = 200) -> gym.Env:
    return RichStartMountainCar(gym.make("MountainCar-v0", max_episode_steps=max_episode_steps), rich_starts, shaping)


def make_causal_confusion(env_id: str, **env_config) -> gym.Env:
    """A registered id: `RichStart-MountainCar-v0`, or `MODE-BASE` (the base env's kwargs in env_config)."""
    if env_id == RICH_START_ID:
        return make_mountain_car(**{"rich_starts": True, **env_config})
    base, mode = CAUSAL_CONFUSION_IDS[env_id]
    env = make_mountain_car(**env_config) if base == "MountainCar-v0" else gym.make(base, **env_config)
    return PreviousActionObservation(env, mode)


def causal_confusion_ids() -> Sequence[str]:
    return (RICH_START_ID, *CAUSAL_CONFUSION_IDS)


def mountain_car_pumping_expert(obs: np.ndarray) -> np.ndarray:
    """A scripted MountainCar expert on [position, velocity] (a batch [N, 2]): push along the velocity
    (right at rest), which pumps energy in every swing. Greedy return on the standard start ≈ -120."""
    return np.where(np.asarray(obs)[:, 1] >= 0, 2, 0).astype(np.int64)
