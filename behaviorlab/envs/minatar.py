"""MinAtar (Young & Tian 2019): five Atari-like games on a 10×10 grid, for fast experiments.

The `minatar` package ships its own gymnasium env (`minatar.gym.BaseEnv`) and registers it
through a gymnasium entry-point plugin, which gymnasium 1.x no longer loads on import; this
module calls that registration and builds the package's `MinAtar/<Game>-v1` ids (minimal action
set: the game's meaningful actions). `full_action_space=True` gives all 6 actions (no-op, left,
up, right, down, fire), as the package's `-v0` ids do; those are not offered as ids because
gymnasium flags a `-v0` as out of date whenever a `-v1` exists.

Observations: float32 [10, 10, C] in {0, 1}, one channel per object type (C = 4 Asterix and
Breakout, 7 Freeway, 10 Seaquest, 6 SpaceInvaders); the package gives bool, cast here because
RLlib's encoders take float input. Actions: Discrete. Sticky actions (p = 0.1) and difficulty
ramping are on by default, as in the MinAtar paper. `reset(seed=s)` reseeds the game and its
sticky-action draw, so a seeded episode is reproducible.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import DtypeObservation

MINATAR_GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")
MINATAR_IDS: tuple[str, ...] = tuple(f"MinAtar/{game}-v1" for game in MINATAR_GAMES)

INSTALL_HINT = "MinAtar envs need the minatar package: pip install 'behaviorlab[minatar]'"


def require_minatar() -> None:
    """Register the MinAtar ids with gymnasium; ImportError with the install command if absent."""
    try:
        import minatar.gym
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    if MINATAR_IDS[0] not in gym.registry:
        minatar.gym.register_envs()


def make_minatar(
    env_id: str,
    *,
    full_action_space: bool = False,
    sticky_action_prob: float = 0.1,
    difficulty_ramping: bool = True,
    max_episode_steps: int | None = None,
    render_mode: str | None = None,
) -> gym.Env:
    """Build a MinAtar game with float32 observations.

    Args:
        env_id: one of MINATAR_IDS.
        full_action_space: all 6 actions instead of the game's minimal set.
        sticky_action_prob: probability that the previous action is repeated instead of the new one.
        difficulty_ramping: whether the game speeds up as the episode goes on.
        max_episode_steps: optional time limit (episodes otherwise end only by the game's rules).
        render_mode: None, "rgb_array" or "human" (the latter needs a display).
    """
    if env_id not in MINATAR_IDS:
        raise ValueError(f"make_minatar: unknown id {env_id!r}; known: {', '.join(MINATAR_IDS)}")
    require_minatar()
    time_limit = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
    env = gym.make(
        env_id,
        use_minimal_action_set=not full_action_space,
        sticky_action_prob=sticky_action_prob,
        difficulty_ramping=difficulty_ramping,
        render_mode=render_mode,
        **time_limit,
    )
    return DtypeObservation(env, np.float32)
