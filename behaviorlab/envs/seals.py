"""seals (Gleave et al., "Suite of Environments for Algorithms that Learn Specifications"): fixed-horizon
variants of classic-control and MuJoCo tasks, for fair imitation learning.

Every episode lasts exactly the task's horizon (CartPole 500 steps, MountainCar 200, MuJoCo 1000): no
early termination, so an imitation reward that is always positive (GAIL's −log D) or always negative
cannot be exploited by ending episodes early or late (the survival bias of CartPole-v1 or Hopper).
Failure states are kept in the observation instead (a fallen CartPole's pole angle wraps around).
The package registers its ids with gymnasium when imported; it works with gymnasium 1.2.
"""

from __future__ import annotations

import gymnasium as gym

SEALS_IDS: tuple[str, ...] = (
    "seals/CartPole-v0",
    "seals/MountainCar-v0",
    *(f"seals/{name}-v1" for name in ("Ant", "HalfCheetah", "Hopper", "Humanoid", "Swimmer", "Walker2d")),
)

INSTALL_HINT = "seals envs need the seals package: pip install 'behaviorlab[imitation]'"


def require_seals() -> None:
    """Import seals (which registers its ids with gymnasium); ImportError with the install command if absent."""
    try:
        import seals  # noqa: F401
    except ImportError:
        raise ImportError(INSTALL_HINT) from None


def seals_entry_point(env_id: str):
    """The env class behind a seals id (its constructor arguments are the ids' env_config keys)."""
    require_seals()
    entry = gym.spec(env_id).entry_point
    if isinstance(entry, str):
        module_name, _, attr = entry.partition(":")
        import importlib

        return getattr(importlib.import_module(module_name), attr)
    return entry


def make_seals(env_id: str, **kwargs) -> gym.Env:
    require_seals()
    return gym.make(env_id, **kwargs)
