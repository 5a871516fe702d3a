"""Algorithm names a spec may use → their RLlib AlgorithmConfig classes.

Entries are import paths so that listing and spelling checks need no Ray import; custom
algorithms join this table as they land.
"""

from __future__ import annotations

import importlib

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
    "BC": "behaviorlab.algorithms.bc.config:BCConfig",
    "GAIL": "behaviorlab.algorithms.gail.config:GAILConfig",
    "SVRLDQN": "behaviorlab.algorithms.svrl.config:SVRLDQNConfig",
    "STEVE": "behaviorlab.algorithms.steve.config:STEVEConfig",
}


def algorithm_config_class(name: str) -> type:
    module_name, _, attr = ALGORITHMS[name].partition(":")
    return getattr(importlib.import_module(module_name), attr)


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
