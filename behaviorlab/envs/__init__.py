"""Environment registry: every env id a spec may name, with its creator and accepted kwargs.

Families: classic control and MuJoCo v5 (gymnasium), Atari (ale-py, optional preprocessing),
MinAtar (``minatar``), BabyAI (``minigrid``), Crafter (``crafter``), seals' fixed-horizon tasks
(``seals``), the sequential-navigation tasks, the causal-confusion testbeds (``confounded``), SV-RL's testbeds (discretised Pendulum, a random MDP),
any other id registered with gymnasium (``Taxi-v3``, a user's ``gym.register``), gymnasium's
``module:EnvId`` (the module is imported, then ``gym.make("EnvId")`` applies the registered time limit
and wrappers), and user envs given as an import path ``package.module:factory`` (a gymnasium.Env class
or a function of ``**env_config`` returning one; built-in and standard-library callables such as
``os:system`` are refused before they are called). User modules are imported from the working
directory too. Gymnasium and user envs with Discrete, MultiDiscrete or Tuple observations are
flattened (one-hot for Discrete), as RLlib's old stack did. A MinAtar, BabyAI or Crafter id whose
package is missing fails with the install command. RLlib reaches envs through
``tune.register_env`` so Ray workers build them with the same creator, wherever they run.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import sys
from dataclasses import dataclass
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from behaviorlab.platform.registry import import_cwd_module

CLASSIC_CONTROL = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1")
MUJOCO = tuple(
    f"{name}-v5"
    for name in (
        "Ant", "HalfCheetah", "Hopper", "Humanoid", "HumanoidStandup", "InvertedDoublePendulum",
        "InvertedPendulum", "Pusher", "Reacher", "Swimmer", "Walker2d",
    )
)
# kwargs gym.make accepts for every id, on top of the env class's own constructor arguments.
_GYM_MAKE_KWARGS = {"max_episode_steps", "render_mode"}


class EnvConfigError(ValueError):
    """An env id or env_config key that cannot be used; the message says how to fix it."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


@dataclass(frozen=True)
class EnvInfo:
    env_id: str
    family: str
    accepted_kwargs: frozenset[str] | None  # None: the creator takes **kwargs, nothing to check


# Tasks built in this package: env id → entry point.
NAVIGATION = {
    "PointMassNavigation-v0": "behaviorlab.envs.navigation:PointMassNavigation",
    "AntNavigation-v0": "behaviorlab.envs.navigation:AntNavigation",
}
# Low- and high-rank Q matrices for value-based methods (SV-RL): env id → entry point.
VALUE_TESTBEDS = {
    "DiscretePendulum-v1": "behaviorlab.envs.discretized:DiscretePendulum",
    "RandomMDP-v0": "behaviorlab.envs.random_mdp:RandomMDP",
}


def _atari_ids() -> tuple[str, ...]:
    from behaviorlab.envs.atari import ALL_ATARI_IDS

    return tuple(ALL_ATARI_IDS)


def registered_envs() -> dict[str, str]:
    """env id → family, for `behaviorlab envs` and spec validation."""
    from behaviorlab.envs.confounded import causal_confusion_ids
    from behaviorlab.envs.crafter import CRAFTER_IDS
    from behaviorlab.envs.minatar import MINATAR_IDS
    from behaviorlab.envs.minigrid import babyai_ids
    from behaviorlab.envs.seals import SEALS_IDS

    envs = {env_id: "classic control" for env_id in CLASSIC_CONTROL}
    envs.update({env_id: "mujoco" for env_id in MUJOCO})
    envs.update({env_id: "atari" for env_id in _atari_ids()})
    envs.update({env_id: "minatar" for env_id in MINATAR_IDS})
    envs.update({env_id: "navigation" for env_id in NAVIGATION})
    envs.update({env_id: "value-based testbed" for env_id in VALUE_TESTBEDS})
    envs.update({env_id: "babyai" for env_id in babyai_ids()})
    envs.update({env_id: "crafter" for env_id in CRAFTER_IDS})
    envs.update({env_id: "seals" for env_id in SEALS_IDS})
    envs.update({env_id: "causal confusion" for env_id in causal_confusion_ids()})
    return envs


def _import_module(env_id: str):
    module_name = env_id.partition(":")[0]
    try:
        return import_cwd_module(module_name)
    except ImportError as error:
        raise EnvConfigError("env", f"cannot import module '{module_name}' ({error}); check the path and that it is installed") from None
    except (Exception, SystemExit) as error:  # a module that fails (or exits) on import is the user's to fix
        raise EnvConfigError("env", f"importing module '{module_name}' raised {type(error).__name__}: {error}; "
                                    "fix the module") from None


def _is_gym_id(env_id: str) -> bool:
    """`EnvId` registered with gymnasium, or gymnasium's `module:EnvId` (the module registers it on import;
    `module:Class` names an attribute instead)."""
    if ":" not in env_id:
        return env_id in gym.registry
    module_name, _, attr = env_id.partition(":")
    return not hasattr(_import_module(env_id), attr) and attr in gym.registry


def _load_entry_point(env_id: str) -> Callable[..., gym.Env]:
    module_name, _, attr = env_id.partition(":")
    module = _import_module(env_id)
    try:
        factory = getattr(module, attr)
    except AttributeError:
        close = difflib.get_close_matches(attr, {*vars(module), *gym.registry}, n=1, cutoff=0.6)
        hint = f"did you mean '{module_name}:{close[0]}'?" if close else "name a gymnasium.Env class or factory"
        raise EnvConfigError("env", f"module '{module_name}' has no attribute or registered env id '{attr}'; "
                                    f"{hint}") from None
    _check_factory(env_id, module_name, factory)
    return factory


def _check_factory(env_id: str, module_name: str, factory: Any) -> None:
    """Refuse, before calling it, what cannot be an env creator: import paths are for envs, not for
    running `os:system` or `sys:exit` with env_config as arguments."""
    if inspect.isclass(factory):
        if issubclass(factory, gym.Env):
            return
        problem = "is a class that does not subclass gymnasium.Env"
    elif not callable(factory):
        problem = f"is a {type(factory).__name__}, not a class or function"
    else:
        while isinstance(factory, functools.partial):
            factory = factory.func
        modules = {module_name, getattr(factory, "__module__", None) or ""}
        if not inspect.isbuiltin(factory) and not {m.partition(".")[0] for m in modules} & sys.stdlib_module_names:
            return
        problem = "is a built-in or standard-library callable"
    raise EnvConfigError("env", f"'{env_id}' {problem}; name a gymnasium.Env subclass or a function returning one")


def _accepted_kwargs(func: Callable) -> frozenset[str] | None:
    """Keyword arguments `func` accepts; None when it takes arbitrary ones. For a class whose
    __init__ forwards **kwargs to its base (as gymnasium's MuJoCo envs do), the bases' count too."""
    targets = [klass.__init__ for klass in func.__mro__ if "__init__" in vars(klass)] if inspect.isclass(func) else [func]
    names: set[str] = set()
    for target in targets:
        params = inspect.signature(target).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            return frozenset(names)
    return None


def env_info(env_id: str) -> EnvInfo:
    """Look an env id up; raises EnvConfigError naming the closest registered id."""
    if env_id in NAVIGATION:
        return EnvInfo(env_id, "navigation", _accepted_kwargs(_load_entry_point(NAVIGATION[env_id])))
    if env_id in VALUE_TESTBEDS:
        return EnvInfo(env_id, "value-based testbed", _accepted_kwargs(_load_entry_point(VALUE_TESTBEDS[env_id])))
    if env_id.endswith("-MountainCar-v0") or env_id.startswith(("Confounded-", "Original-")):
        from behaviorlab.envs.confounded import CAUSAL_CONFUSION_IDS, MOUNTAIN_CAR_KWARGS, causal_confusion_ids

        if env_id in causal_confusion_ids():
            base = CAUSAL_CONFUSION_IDS.get(env_id, ("MountainCar-v0",))[0]
            accepted = MOUNTAIN_CAR_KWARGS if base == "MountainCar-v0" else env_info(base).accepted_kwargs
            return EnvInfo(env_id, "causal confusion", accepted)
    if env_id.startswith("ALE/"):
        from behaviorlab.envs.atari import make_atari

        if env_id in _atari_ids():
            return EnvInfo(env_id, "atari", _accepted_kwargs(make_atari) - {"env_id"})
    elif env_id.startswith("MinAtar/"):
        from behaviorlab.envs.minatar import MINATAR_IDS, make_minatar, require_minatar

        if env_id in MINATAR_IDS:
            try:
                require_minatar()
            except ImportError as error:
                raise EnvConfigError("env", f"{env_id}: {error}") from None
            return EnvInfo(env_id, "minatar", _accepted_kwargs(make_minatar) - {"env_id"})
    elif env_id.startswith("BabyAI-"):
        from behaviorlab.envs.minigrid import babyai_ids, make_babyai, require_minigrid

        try:
            require_minigrid()
        except ImportError as error:
            raise EnvConfigError("env", f"{env_id}: {error}") from None
        if env_id in babyai_ids():
            return EnvInfo(env_id, "babyai", _accepted_kwargs(make_babyai) - {"env_id"})
    elif env_id.startswith("Crafter-"):
        from behaviorlab.envs.crafter import CRAFTER_IDS, CrafterEnv, require_crafter

        if env_id in CRAFTER_IDS:
            try:
                require_crafter()
            except ImportError as error:
                raise EnvConfigError("env", f"{env_id}: {error}") from None
            return EnvInfo(env_id, "crafter", _accepted_kwargs(CrafterEnv))
    elif env_id.startswith("seals/"):
        from behaviorlab.envs.seals import SEALS_IDS, seals_entry_point

        if env_id in SEALS_IDS:
            try:
                kwargs = _accepted_kwargs(seals_entry_point(env_id))
            except ImportError as error:
                raise EnvConfigError("env", f"{env_id}: {error}") from None
            return EnvInfo(env_id, "seals", None if kwargs is None else kwargs | _GYM_MAKE_KWARGS)
    if _is_gym_id(env_id):
        gym_spec = gym.spec(env_id.rpartition(":")[2])
        entry = gym_spec.entry_point
        env_class = _load_entry_point(entry) if isinstance(entry, str) else entry
        kwargs = _accepted_kwargs(env_class)
        family = "classic control" if env_id in CLASSIC_CONTROL else "mujoco" if env_id in MUJOCO else "gymnasium"
        return EnvInfo(env_id, family, None if kwargs is None else kwargs | _GYM_MAKE_KWARGS)
    if ":" in env_id:
        return EnvInfo(env_id, "custom", _accepted_kwargs(_load_entry_point(env_id)))
    close = difflib.get_close_matches(env_id, {*registered_envs(), *gym.registry}, n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else "run `behaviorlab envs` for the list"
    raise EnvConfigError("env", f"unknown env '{env_id}'; {hint} (or give a 'package.module:Factory' import path)")


def check_env_config(env_id: str, env_config: dict[str, Any]) -> None:
    """Raise EnvConfigError for an env_config key the env's creator does not accept."""
    accepted = env_info(env_id).accepted_kwargs
    if accepted is None:
        return
    for key in env_config:
        if key not in accepted:
            close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else f"accepted: {', '.join(sorted(accepted))}"
            raise EnvConfigError(f"env_config.{key}", f"{env_id} does not accept '{key}'; {hint}")


def _flatten_discrete_observations(env: gym.Env) -> gym.Env:
    """RLlib's new stack has no encoder for Discrete/MultiDiscrete/Tuple observations: one-hot and
    concatenate them into a float32 Box as its old stack did (Dict observations are left to custom models)."""
    if isinstance(env.observation_space, (gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.Tuple)):
        return gym.wrappers.DtypeObservation(gym.wrappers.FlattenObservation(env), np.float32)
    return env


def make_env(env_id: str, env_config: dict[str, Any] | None = None) -> gym.Env:
    """Build one env instance; Dict and Box observation spaces are passed through untouched."""
    env_config = dict(env_config or {})
    if env_id in NAVIGATION or env_id in VALUE_TESTBEDS or (":" in env_id and not _is_gym_id(env_id)):
        env = _load_entry_point(NAVIGATION.get(env_id) or VALUE_TESTBEDS.get(env_id, env_id))(**env_config)
        if not isinstance(env, gym.Env):
            raise EnvConfigError("env", f"'{env_id}' returned a {type(env).__name__}, not a gymnasium.Env; "
                                        "make the factory return the env")
        return env if env_id in NAVIGATION or env_id in VALUE_TESTBEDS else _flatten_discrete_observations(env)
    if env_id.endswith("-MountainCar-v0") or env_id.startswith(("Confounded-", "Original-")):
        from behaviorlab.envs.confounded import causal_confusion_ids, make_causal_confusion

        if env_id in causal_confusion_ids():
            return make_causal_confusion(env_id, **env_config)
    if env_id.startswith("ALE/"):
        from behaviorlab.envs.atari import make_atari

        return make_atari(env_id, **env_config)
    if env_id.startswith("MinAtar/"):
        from behaviorlab.envs.minatar import make_minatar

        return make_minatar(env_id, **env_config)
    if env_id.startswith("BabyAI-"):
        from behaviorlab.envs.minigrid import make_babyai

        return make_babyai(env_id, **env_config)
    if env_id.startswith("Crafter-"):
        from behaviorlab.envs.crafter import make_crafter

        return make_crafter(env_id, **env_config)
    if env_id.startswith("seals/"):
        from behaviorlab.envs.seals import make_seals

        return make_seals(env_id, **env_config)
    if ":" in env_id:  # gym.make imports the module of `module:EnvId` too, but not from the working directory
        _import_module(env_id)
    return _flatten_discrete_observations(gym.make(env_id, **env_config))


def register_with_tune(env_id: str) -> None:
    """Make `env_id` buildable by RLlib EnvRunners on any node of the running Ray cluster."""
    from ray.tune.registry import register_env

    # RLlib passes an EnvContext (a dict plus worker/vector indices); the creator takes plain kwargs.
    register_env(env_id, lambda context: make_env(env_id, dict(context)))
