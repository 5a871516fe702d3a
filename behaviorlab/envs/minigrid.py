"""BabyAI (Chevalier-Boisvert et al. 2019) levels from the `minigrid` package, with a flat observation.

The package's observation is a Dict holding a mission *string*, which RLlib cannot encode. Here
each observation is one float32 vector that RLlib's default MLP takes and that trajectory
datasets store as is, so a policy pre-trained on a dataset acts on the env unchanged:

    [0, 147)            the agent-centric 7×7×3 symbolic view (object, colour, state indices),
                        row-major as minigrid gives it (`IMAGE_SLICE`)
    [147, 151)          the agent's direction, one-hot (`DIRECTION_SLICE`)
    [151, 151 + |V|)    the mission as a bag of words over `MISSION_VOCABULARY` (word counts; the
                        last entry counts words outside the vocabulary) (`MISSION_SLICE`)

A bag of words loses word order ("put A next to B" vs "put B next to A"); it is enough for the
one-clause levels the PTGM experiments use, and keeps the observation a fixed-size vector.
Actions: Discrete(7) (left, right, forward, pickup, drop, toggle, done).
"""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np

INSTALL_HINT = "BabyAI envs need the minigrid package: pip install 'behaviorlab[ptgm]'"
BABYAI_PREFIX = "BabyAI-"

# Every word BabyAI's mission grammar produces (minigrid/envs/babyai/core/verifier.py).
MISSION_VOCABULARY: tuple[str, ...] = (
    "go", "to", "pick", "up", "put", "open", "next", "the", "a", "then", "after", "you", "and",
    "in", "front", "of", "behind", "on", "your", "left", "right",
    "door", "key", "ball", "box", "object",
    "red", "green", "blue", "purple", "yellow", "grey",
)
_WORD_INDEX = {word: index for index, word in enumerate(MISSION_VOCABULARY)}
IMAGE_SHAPE = (7, 7, 3)
IMAGE_SIZE = int(np.prod(IMAGE_SHAPE))
NUM_DIRECTIONS = 4
IMAGE_SLICE = slice(0, IMAGE_SIZE)
DIRECTION_SLICE = slice(IMAGE_SIZE, IMAGE_SIZE + NUM_DIRECTIONS)
MISSION_SLICE = slice(IMAGE_SIZE + NUM_DIRECTIONS, IMAGE_SIZE + NUM_DIRECTIONS + len(MISSION_VOCABULARY) + 1)
OBSERVATION_SIZE = MISSION_SLICE.stop
# Bump when the layout above changes: datasets record it, and readers compare.
OBSERVATION_LAYOUT = "babyai-flat-v1"


def require_minigrid() -> None:
    """Import minigrid (which registers the BabyAI ids with gymnasium); ImportError with the install command."""
    try:
        import minigrid  # noqa: F401
    except ImportError:
        raise ImportError(INSTALL_HINT) from None


def babyai_ids() -> tuple[str, ...]:
    """Every BabyAI level id, or () when minigrid is not installed."""
    try:
        require_minigrid()
    except ImportError:
        return ()
    return tuple(sorted(env_id for env_id in gym.registry if env_id.startswith(BABYAI_PREFIX)))


def encode_mission(mission: str) -> np.ndarray:
    """Word counts of a mission over MISSION_VOCABULARY, plus the count of unknown words."""
    counts = np.zeros(len(MISSION_VOCABULARY) + 1, np.float32)
    for word in re.findall(r"[a-z]+", mission.lower()):
        counts[_WORD_INDEX.get(word, len(MISSION_VOCABULARY))] += 1
    return counts


def flatten_observation(obs: dict) -> np.ndarray:
    """minigrid's Dict observation → the flat float32 vector described in the module docstring."""
    flat = np.zeros(OBSERVATION_SIZE, np.float32)
    flat[IMAGE_SLICE] = np.asarray(obs["image"], np.float32).reshape(-1)
    flat[DIRECTION_SLICE.start + int(obs["direction"])] = 1.0
    flat[MISSION_SLICE] = encode_mission(obs["mission"])
    return flat


class FlatBabyAIObservation(gym.ObservationWrapper):
    """Replaces the Dict observation with `flatten_observation`'s vector; `env.unwrapped` stays
    the minigrid env (the BabyAI bot plans on it)."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        high = np.full(OBSERVATION_SIZE, 255.0, np.float32)
        self.observation_space = gym.spaces.Box(0.0, high, dtype=np.float32)

    def observation(self, observation: dict) -> np.ndarray:
        return flatten_observation(observation)


def make_babyai(env_id: str, *, max_episode_steps: int | None = None, render_mode: str | None = None) -> gym.Env:
    """Build a BabyAI level with the flat observation.

    Args:
        env_id: a `BabyAI-…` id (`behaviorlab envs --family babyai`).
        max_episode_steps: time limit; default the level's own (e.g. 64 for GoToLocal).
        render_mode: None or "rgb_array".
    """
    require_minigrid()
    if env_id not in babyai_ids():
        raise ValueError(f"make_babyai: unknown id {env_id!r}; see `behaviorlab envs --family babyai`")
    kwargs = {} if max_episode_steps is None else {"max_steps": max_episode_steps}
    return FlatBabyAIObservation(gym.make(env_id, render_mode=render_mode, **kwargs))
