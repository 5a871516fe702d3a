"""Algorithm names a spec may use → their RLlib AlgorithmConfig classes.

Entries are import paths so that listing and spelling checks need no Ray import; custom
algorithms join this table as they land. A spec may also name any AlgorithmConfig subclass by its
import path (`ray.rllib.algorithms.bc:BCConfig`, `my_pkg.algos:MyConfig`).
"""

from __future__ import annotations

import importlib
import os
import sys

ALGORITHMS: dict[str, str] = {
    "PPO": "ray.rllib.algorithms.ppo:PPOConfig",
    "APPO": "ray.rllib.algorithms.appo:APPOConfig",
    "IMPALA": "ray.rllib.algorithms.impala:IMPALAConfig",
    "DQN": "ray.rllib.algorithms.dqn:DQNConfig",
    "SAC": "ray.rllib.algorithms.sac:SACConfig",
    "ACER": "behaviorlab.algorithms.acer.config:ACERConfig",
    "SVG0Prior": "behaviorlab.algorithms.svg0_prior.config:SVG0PriorConfig",
    "LBC": "behaviorlab.algorithms.lbc.config:LBCConfig",
    "PTGM": "behaviorlab.algorithms.ptgm.config:PTGMConfig",
    "PTGMACER": "behaviorlab.algorithms.ptgm.config:PTGMACERConfig",
    "PTGMVAESkills": "behaviorlab.algorithms.ptgm.config:PTGMVAESkillsConfig",
    "BC": "behaviorlab.algorithms.bc.config:BCConfig",
    "GAIL": "behaviorlab.algorithms.gail.config:GAILConfig",
    "SVRLDQN": "behaviorlab.algorithms.svrl.config:SVRLDQNConfig",
    "STEVE": "behaviorlab.algorithms.steve.config:STEVEConfig",
}


class AlgorithmError(ValueError):
    """An `algorithm:` that names no AlgorithmConfig; the message is `problem; fix`."""


def import_cwd_module(module_name: str):
    """Import a user's module the way `python -m` would: the working directory is importable, so
    `mypkg` next to the spec needs no PYTHONPATH (Ray adds the driver's working directory to its
    workers' sys.path too)."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.append(os.getcwd())  # after site-packages: a user's file never shadows a library
    return importlib.import_module(module_name)


def algorithm_config_class(name: str) -> type:
    """The AlgorithmConfig class of a registered name or of a `module:Class` import path."""
    if name in ALGORITHMS:
        module_name, _, attr = ALGORITHMS[name].partition(":")
        return getattr(importlib.import_module(module_name), attr)
    if ":" not in name:
        raise AlgorithmError(f"unknown algorithm '{name}'; name one of `behaviorlab algorithms` "
                             "or an AlgorithmConfig subclass as module:Class")
    module_name, _, attr = name.partition(":")
    try:
        module = import_cwd_module(module_name)
    except ImportError as error:
        raise AlgorithmError(f"cannot import module '{module_name}' ({error}); check the path and that it is "
                             "installed") from None
    except (Exception, SystemExit) as error:  # the user's module fails on import
        raise AlgorithmError(f"importing module '{module_name}' raised {type(error).__name__}: {error}; "
                             "fix the module") from None
    config_class = getattr(module, attr, None)
    from ray.rllib.algorithms.algorithm_config import AlgorithmConfig

    if not (isinstance(config_class, type) and issubclass(config_class, AlgorithmConfig)):
        what = ("not defined in the module" if config_class is None
                else "a class" if isinstance(config_class, type) else f"a {type(config_class).__name__}")
        raise AlgorithmError(f"'{name}' is {what}, not an AlgorithmConfig subclass; name the algorithm's "
                             "config class, e.g. ray.rllib.algorithms.ppo:PPOConfig")
    return config_class


def algorithm_class(name: str) -> type:
    """The Algorithm (Tune trainable) that a registered config class builds."""
    return algorithm_config_class(name)().algo_class


def apply_config(config, fields: dict):
    """Set spec `config` fields on an AlgorithmConfig. `model_config` is a read-only property
    there (set through `rl_module`), which `update_from_dict` cannot handle."""
    fields = dict(fields)
    if "model_config" in fields:
        config.rl_module(model_config=fields.pop("model_config"))
    return config.update_from_dict(fields)
